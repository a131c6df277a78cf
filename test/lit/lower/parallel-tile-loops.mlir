// RUN: axfusion-opt %s --axf-parallel-tile-loops | FileCheck %s
// RUN: axfusion-opt %s --axf-parallel-tile-loops --pass-pipeline='builtin.module(scf-forall-to-for,async-parallel-for{async-dispatch=true num-workers=-1 min-task-size=1},async-to-async-runtime,convert-async-to-llvm)' | FileCheck %s --check-prefix=ASYNC

// The outermost tile loop of a nest with enough work (4 tiles x 2 x 256 x
// 1024 x 5 element ops, over the 2^22 threshold) becomes an scf.parallel; the forall nested in it stays a
// forall (scf-forall-to-for makes it serial). A serial copy runs when the
// exported flag @__axf_parallel is 0 (a forked child).
// CHECK:       memref.global @__axf_parallel : memref<i32> = dense<1>
// CHECK-LABEL: func.func @big
// CHECK:         %[[G:.*]] = memref.get_global @__axf_parallel : memref<i32>
// CHECK:         %[[F:.*]] = memref.load %[[G]][] : memref<i32>
// CHECK:         %[[ON:.*]] = arith.cmpi ne, %[[F]], %{{.*}} : i32
// CHECK:         scf.if %[[ON]] {
// CHECK:           scf.parallel (%{{.*}}) = (%{{.*}}) to (%{{.*}}) step (%{{.*}})
// CHECK:             scf.forall (%{{.*}}) in (2)
// CHECK:         } else {
// CHECK-NEXT:      scf.forall (%{{.*}}) in (4)
// CHECK-NEXT:        scf.forall (%{{.*}}) in (2)
// CHECK-NOT:     scf.parallel
// ASYNC-LABEL:   func.func @big
// ASYNC:           call @mlirAsyncRuntimGetNumWorkerThreads
// ASYNC:           call @mlirAsyncRuntimeAwaitAllInGroup
func.func @big(%a: memref<1024x1024xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c256 = arith.constant 256 : index
  %c1024 = arith.constant 1024 : index
  %one = arith.constant 1.0 : f32
  scf.forall (%t) in (4) {
    scf.forall (%u) in (2) {
      scf.for %i = %c0 to %c256 step %c1 {
        scf.for %j = %c0 to %c1024 step %c1 {
          %r = affine.apply affine_map<(d0, d1) -> (d0 * 256 + d1)>(%t, %i)
          %v = memref.load %a[%r, %j] : memref<1024x1024xf32>
          %w = arith.addf %v, %one : f32
          memref.store %w, %a[%r, %j] : memref<1024x1024xf32>
        }
      }
    }
  }
  return
}

// Too little work (4 tiles x 64 element ops): waking a worker costs more.
// CHECK-LABEL: func.func @small
// CHECK-NOT:     scf.parallel
// CHECK:         scf.forall
// ASYNC-LABEL:   func.func @small
// ASYNC-NOT:       mlirAsyncRuntime
// ASYNC-LABEL:   func.func @one_tile
func.func @small(%a: memref<4x16xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c16 = arith.constant 16 : index
  %one = arith.constant 1.0 : f32
  scf.forall (%t) in (4) {
    scf.for %j = %c0 to %c16 step %c1 {
      %v = memref.load %a[%t, %j] : memref<4x16xf32>
      %w = arith.addf %v, %one : f32
      memref.store %w, %a[%t, %j] : memref<4x16xf32>
    }
  }
  return
}

// One tile: nothing to share.
// CHECK-LABEL: func.func @one_tile
// CHECK-NOT:     scf.parallel
// CHECK:         scf.forall
func.func @one_tile(%a: memref<1x65536xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = arith.constant 65536 : index
  %one = arith.constant 1.0 : f32
  scf.forall (%t) in (1) {
    scf.for %j = %c0 to %n step %c1 {
      %v = memref.load %a[%t, %j] : memref<1x65536xf32>
      %w = arith.addf %v, %one : f32
      memref.store %w, %a[%t, %j] : memref<1x65536xf32>
    }
  }
  return
}

// A dynamic trip count: parallel when trips x work (16 x 4 per tile) reaches
// the threshold at run time.
// CHECK-LABEL: func.func @dynamic
// CHECK:         %[[T:.*]] = arith.ceildivsi
// CHECK:         %[[W:.*]] = arith.muli %{{.*}}, %c64
// CHECK:         %[[BIG:.*]] = arith.cmpi sge, %[[W]], %c4194304
// CHECK:         %[[ON:.*]] = arith.andi %{{.*}}, %[[BIG]] : i1
// CHECK:         scf.if %[[ON]] {
// CHECK:           scf.parallel
// CHECK:         } else {
// CHECK-NEXT:      scf.forall (%{{.*}}) in (%{{.*}})
// ASYNC-LABEL:   func.func @dynamic
// ASYNC:           call @mlirAsyncRuntimGetNumWorkerThreads
// The tasks: outlined bodies handed to the runtime's thread pool.
// ASYNC:         func.func private @async_execute_fn
// ASYNC:           call @mlirAsyncRuntimeExecute
func.func @dynamic(%a: memref<?x16xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c16 = arith.constant 16 : index
  %one = arith.constant 1.0 : f32
  scf.forall (%t) in (%n) {
    scf.for %j = %c0 to %c16 step %c1 {
      %v = memref.load %a[%t, %j] : memref<?x16xf32>
      %w = arith.addf %v, %one : f32
      memref.store %w, %a[%t, %j] : memref<?x16xf32>
    }
  }
  return
}
