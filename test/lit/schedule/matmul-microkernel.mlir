// RUN: axfusion-opt %s --axf-fuse --axf-tile-and-fuse | FileCheck %s
// RUN: axfusion-opt %s --axf-fuse --axf-schedule --axf-bufferize | FileCheck %s --check-prefix=BUF

// A LinearBiasRelu group: one loop nest over output tiles; in each tile
// the zero fill, the matmul as vectorised register blocks (the accumulator
// a vector iter_arg of the k loop, FMAs inside), then the bias and the ReLU
// on the tile, all before the tile is inserted into the result. Tiles are
// 256 columns wide; their height depends on the host's register block.
// The epilogue writes over the tile it reads (outs = the matmul's tile), so
// that after bufferization the whole chain works in the result's tile: no
// temporary buffer at all.
// BUF-LABEL: func.func @linear_relu
// BUF-NOT:     memref.alloc
// BUF:         scf.forall
// BUF-NOT:     memref.alloc
// BUF:         return
// CHECK-LABEL: func.func @linear_relu
// CHECK-NOT:     linalg.matmul
// CHECK:         scf.forall ({{.*}}) in ({{[0-9]+}}, 2)
// CHECK:           linalg.fill {axf.group = 0 : i64, axf.member = 3 : i64}
// CHECK:           scf.for
// CHECK:             scf.for {{.*}} -> (vector<{{[0-9]+}}x{{[0-9]+}}xf32>)
// CHECK:               vector.fma
// CHECK:           linalg.generic
// CHECK-SAME:        axf.member = 1 : i64
// CHECK:             arith.addf
// CHECK:           linalg.generic
// CHECK-SAME:        axf.pattern = "LinearBiasRelu"
// CHECK:           scf.forall.in_parallel
// CHECK-NOT:     linalg.
// CHECK:         return
#id = affine_map<(d0, d1) -> (d0, d1)>
#bias = affine_map<(d0, d1) -> (d1)>
func.func @linear_relu(%x: tensor<256x64xf32>, %w: tensor<64x512xf32>, %b: tensor<512xf32>) -> tensor<256x512xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<256x512xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e : tensor<256x512xf32>) -> tensor<256x512xf32>
  %mm = linalg.matmul ins(%x, %w : tensor<256x64xf32>, tensor<64x512xf32>) outs(%acc : tensor<256x512xf32>) -> tensor<256x512xf32>
  %biased = linalg.generic {indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]}
      ins(%mm, %b : tensor<256x512xf32>, tensor<512xf32>) outs(%e : tensor<256x512xf32>) {
  ^bb0(%v: f32, %bv: f32, %o: f32):
    %s = arith.addf %v, %bv : f32
    linalg.yield %s : f32
  } -> tensor<256x512xf32>
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%biased : tensor<256x512xf32>) outs(%e : tensor<256x512xf32>) {
  ^bb0(%v: f32, %o: f32):
    %p = arith.cmpf ugt, %v, %zero : f32
    %q = arith.select %p, %v, %zero : f32
    linalg.yield %q : f32
  } -> tensor<256x512xf32>
  return %r : tensor<256x512xf32>
}
