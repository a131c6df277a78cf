// RUN: axfusion-opt %s --axf-contraction-loop-order --split-input-file | FileCheck %s

// A matmul outside any fusion group gets the fused tiles' micro-kernel
// (passes/matmul_schedule.py): an R x C block of the output (8 x 32 with
// AVX-512, 6 x 16 with AVX2: the host decides, so sizes are captured) is
// read into vector registers once, the k loop carries it as a vector and
// adds one outer product per step (a row of B times broadcast elements of
// A, as FMAs), and the block is written back after the loop.
// CHECK-LABEL: func.func @matmul
// CHECK-NOT:     linalg.matmul
// CHECK:         %[[ACC0:.*]] = vector.transfer_read %{{.*}} : tensor<8x32xf32>, vector<[[R:[0-9]+]]x[[C:[0-9]+]]xf32>
// CHECK:         %[[ACC:.*]] = scf.for %{{.*}} = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%[[A:.*]] = %[[ACC0]]) -> (vector<[[R]]x[[C]]xf32>)
// CHECK:           %[[B:.*]] = vector.transfer_read %arg1{{.*}} : tensor<16x32xf32>, vector<[[C]]xf32>
// CHECK:           %[[X:.*]] = vector.broadcast %{{.*}} : f32 to vector<[[C]]xf32>
// CHECK:           %[[ROW:.*]] = vector.extract %[[A]][0] : vector<[[C]]xf32> from vector<[[R]]x[[C]]xf32>
// CHECK:           vector.fma %[[X]], %[[B]], %[[ROW]] : vector<[[C]]xf32>
// CHECK-NOT:       vector.transfer_write
// CHECK:           scf.yield %{{.*}} : vector<[[R]]x[[C]]xf32>
// CHECK:         vector.transfer_write %[[ACC]], %{{.*}} : vector<[[R]]x[[C]]xf32>, tensor<8x32xf32>
func.func @matmul(%a: tensor<8x16xf32>, %b: tensor<16x32xf32>, %c: tensor<8x32xf32>) -> tensor<8x32xf32> {
  %r = linalg.matmul ins(%a, %b : tensor<8x16xf32>, tensor<16x32xf32>) outs(%c : tensor<8x32xf32>) -> tensor<8x32xf32>
  return %r : tensor<8x32xf32>
}

// -----

// Sizes the block does not divide: the full blocks are unmasked; the rows
// left over (65 = 8 x 8 + 1 with AVX-512) and the last columns are masked
// blocks. No scalar linalg op is left.
// CHECK-LABEL: func.func @ragged
// CHECK-NOT:     linalg.matmul
// CHECK:         vector.fma
// CHECK:         vector.transfer_read {{.*}}, %{{.*}}, %{{.*}} {in_bounds = [true, true]}
// CHECK-NOT:     linalg.
// CHECK:         return
func.func @ragged(%a: tensor<65x300xf32>, %b: tensor<300x129xf32>, %c: tensor<65x129xf32>) -> tensor<65x129xf32> {
  %r = linalg.matmul ins(%a, %b : tensor<65x300xf32>, tensor<300x129xf32>) outs(%c : tensor<65x129xf32>) -> tensor<65x129xf32>
  return %r : tensor<65x129xf32>
}

// -----

// A dynamic number of rows: tiled like a large size, the row loop peeled
// at run time, the partial block masked with the runtime row count.
// CHECK-LABEL: func.func @dynamic_rows
// CHECK-NOT:     linalg.matmul
// CHECK:         scf.for
// CHECK:         vector.fma
// CHECK:         vector.create_mask
// CHECK:         return
func.func @dynamic_rows(%a: tensor<?x64xf32>, %b: tensor<64x64xf32>, %c: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %r = linalg.matmul ins(%a, %b : tensor<?x64xf32>, tensor<64x64xf32>) outs(%c : tensor<?x64xf32>) -> tensor<?x64xf32>
  return %r : tensor<?x64xf32>
}

// -----

// batch_matmul: one batch at a time, the same register blocks.
// CHECK-LABEL: func.func @batch_matmul
// CHECK-NOT:     linalg.batch_matmul
// CHECK:         scf.for %{{.*}} -> (tensor<2x8x32xf32>)
// CHECK:           scf.for %{{.*}} -> (vector<{{[0-9]+}}x{{[0-9]+}}xf32>)
// CHECK:             vector.fma
func.func @batch_matmul(%a: tensor<2x8x16xf32>, %b: tensor<2x16x32xf32>, %c: tensor<2x8x32xf32>) -> tensor<2x8x32xf32> {
  %r = linalg.batch_matmul ins(%a, %b : tensor<2x8x16xf32>, tensor<2x16x32xf32>) outs(%c : tensor<2x8x32xf32>) -> tensor<2x8x32xf32>
  return %r : tensor<2x8x32xf32>
}

// -----

// A function without contractions is left alone.
// CHECK-LABEL: func.func @none
// CHECK-NEXT:    return %arg0
func.func @none(%x: tensor<4xf32>) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}

// -----

// An NCHW convolution outside any group gets the conv micro-kernel
// (passes/conv_schedule.py), as in a ConvBnRelu tile: a block of R output
// channels x 8 output columns of one row (R = 8 with AVX-512, 6 with AVX2)
// is read into registers, the loops over (c, kh, kw) carry it as a vector
// and add a row of the input times broadcast weights (FMAs along the output
// row), and the block is written back after them.
// CHECK-LABEL: func.func @conv
// CHECK-NOT:     linalg.conv_2d_nchw_fchw
// CHECK:         %[[ACC0:.*]] = vector.transfer_read %{{.*}} : tensor<1x8x8x8xf32>, vector<[[R:[0-9]+]]x8xf32>
// CHECK:         scf.for %{{.*}} iter_args(%{{.*}} = %[[ACC0]]) -> (vector<[[R]]x8xf32>)
// CHECK:           scf.for %{{.*}} -> (vector<[[R]]x8xf32>)
// CHECK:             scf.for %{{.*}} -> (vector<[[R]]x8xf32>)
// CHECK:               %[[X:.*]] = vector.transfer_read %arg0{{.*}} : tensor<1x4x10x10xf32>, vector<8xf32>
// CHECK:               %[[W:.*]] = vector.broadcast %{{.*}} : f32 to vector<8xf32>
// CHECK:               vector.fma %[[W]], %[[X]], %{{.*}} : vector<8xf32>
// CHECK-NOT:           vector.transfer_write
// CHECK:               scf.yield %{{.*}} : vector<[[R]]x8xf32>
// CHECK:         vector.transfer_write %{{.*}} : vector<[[R]]x8xf32>, tensor<1x8x8xf32>
func.func @conv(%x: tensor<1x4x10x10xf32>, %w: tensor<8x4x3x3xf32>, %acc: tensor<1x8x8x8xf32>) -> tensor<1x8x8x8xf32> {
  %r = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>}
      ins(%x, %w : tensor<1x4x10x10xf32>, tensor<8x4x3x3xf32>) outs(%acc : tensor<1x8x8x8xf32>) -> tensor<1x8x8x8xf32>
  return %r : tensor<1x8x8x8xf32>
}

// -----

// Sizes the block does not divide, a stride of 2 along the height and a
// dynamic batch: a 7-wide output row is a block of 4 columns (a power of
// two) and a peeled static block of 3; 5 output channels are one block of
// 5. Every block is vectorised (the conv vectoriser does not mask), the
// batch tiled by 1.
// CHECK-LABEL: func.func @ragged_strided
// CHECK-NOT:     linalg.conv_2d_nchw_fchw
// CHECK:         scf.for %{{.*}} -> (tensor<?x5x7x7xf32>)
// CHECK:         vector.transfer_read {{.*}} vector<5x4xf32>
// CHECK:         vector.fma
// CHECK:         vector.transfer_read {{.*}} vector<5x3xf32>
// CHECK:         vector.fma
// CHECK-NOT:     linalg.
// CHECK:         return
func.func @ragged_strided(%x: tensor<?x3x15x9xf32>, %w: tensor<5x3x3x3xf32>, %acc: tensor<?x5x7x7xf32>) -> tensor<?x5x7x7xf32> {
  %r = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<[2, 1]> : vector<2xi64>}
      ins(%x, %w : tensor<?x3x15x9xf32>, tensor<5x3x3x3xf32>) outs(%acc : tensor<?x5x7x7xf32>) -> tensor<?x5x7x7xf32>
  return %r : tensor<?x5x7x7xf32>
}

// -----

// A dynamic image size (no static blocks for the vectoriser) or a stride
// along the width (conv_schedule.py, STRIDED): the loops are only
// reordered, (n, f, oh, ow, c, kh, kw) -> (n, f, oh, c, kh, kw, ow), the
// output row innermost.
// CHECK-LABEL: func.func @conv_dynamic_width
// CHECK-NOT:     linalg.conv_2d_nchw_fchw
// CHECK-NOT:     vector.fma
// CHECK:         linalg.generic
// CHECK-SAME:      iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction", "reduction", "parallel"]
func.func @conv_dynamic_width(%x: tensor<1x4x10x?xf32>, %w: tensor<8x4x3x3xf32>, %acc: tensor<1x8x8x?xf32>) -> tensor<1x8x8x?xf32> {
  %r = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>}
      ins(%x, %w : tensor<1x4x10x?xf32>, tensor<8x4x3x3xf32>) outs(%acc : tensor<1x8x8x?xf32>) -> tensor<1x8x8x?xf32>
  return %r : tensor<1x8x8x?xf32>
}
// CHECK-LABEL: func.func @conv_width_stride
// CHECK-NOT:     vector.fma
// CHECK:         linalg.generic
// CHECK-SAME:      iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction", "reduction", "parallel"]
func.func @conv_width_stride(%x: tensor<1x4x9x9xf32>, %w: tensor<8x4x3x3xf32>, %acc: tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32> {
  %r = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<2> : vector<2xi64>}
      ins(%x, %w : tensor<1x4x9x9xf32>, tensor<8x4x3x3xf32>) outs(%acc : tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  return %r : tensor<1x8x4x4xf32>
}
