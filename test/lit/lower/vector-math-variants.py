# RUN: %PYTHON %s | FileCheck %s
# RUN: %PYTHON %s | opt -O3 -mtriple=x86_64-unknown-linux-gnu -mcpu=x86-64-v3 \
# RUN:   -vector-library=LIBMVEC -S | FileCheck %s --check-prefix=OPT

# The CPU backend's vector-math stage (``add_vector_variants``, run with
# vector math on, 128- and 256-bit variants here): scalar calls of math
# functions that LLVM's LIBMVEC table lacks get a vector-function-abi-variant
# attribute naming glibc's variants; vector intrinsic calls of them call the
# variant of their width; calls LLVM's table covers (exp), a function the
# module defines, and widths without a variant are left alone; a call of a
# function the module defines under a name of LLVM's table (an entry point
# @sin) is nobuiltin (opt would otherwise assert on its prototype). Then
# LLVM's loop vectoriser (with -vector-library=LIBMVEC, as the llvm-opt stage
# runs it) calls the 256-bit variants of erf, tanh and exp.

from axfusion.targets.cpu import add_vector_variants

IR = """
declare float @erff(float) #0
declare float @llvm.tanh.f32(float) #1
declare float @llvm.exp.f32(float) #1
declare <8 x float> @llvm.tanh.v8f32(<8 x float>) #1
declare <2 x float> @llvm.tanh.v2f32(<2 x float>) #1

define float @coshf(float %x) {
  ret float %x
}

define void @loop(ptr noalias %a, ptr noalias %b, i64 %n) {
entry:
  br label %body
body:
  %i = phi i64 [ 0, %entry ], [ %next, %body ]
  %pa = getelementptr float, ptr %a, i64 %i
  %x = load float, ptr %pa, align 4
  %e = call float @erff(float %x)
  %t = call float @llvm.tanh.f32(float %e)
  %p = call float @llvm.exp.f32(float %t)
  %c = call float @coshf(float %p)
  %pb = getelementptr float, ptr %b, i64 %i
  store float %c, ptr %pb, align 4
  %next = add i64 %i, 1
  %more = icmp slt i64 %next, %n
  br i1 %more, label %body, label %exit
exit:
  ret void
}

define void @sin(ptr %p, i64 %n) noinline {
  store i64 %n, ptr %p, align 8
  ret void
}

define void @sin_wrapper(ptr %p) {
  call void @sin(ptr %p, i64 3)
  ret void
}

define <8 x float> @wide(<8 x float> %v, <2 x float> %w, ptr %out) {
  %t = call <8 x float> @llvm.tanh.v8f32(<8 x float> %v)
  %u = call <2 x float> @llvm.tanh.v2f32(<2 x float> %w)
  store <2 x float> %u, ptr %out, align 8
  ret <8 x float> %t
}

attributes #0 = { memory(none) }
attributes #1 = { nocallback nofree nosync nounwind speculatable willreturn memory(none) }
"""

print(add_vector_variants(IR, "bd"))

# CHECK-LABEL: define void @loop(
# CHECK:         call float @erff(float %x) #[[ERF:[0-9]+]]
# CHECK-NEXT:    call float @llvm.tanh.f32(float %e) #[[TANH:[0-9]+]]
# CHECK-NEXT:    call float @llvm.exp.f32(float %t){{$}}
# CHECK-NEXT:    call float @coshf(float %p){{$}}
# CHECK-LABEL: define void @sin_wrapper(
# CHECK-NEXT:    call void @sin(ptr %p, i64 3) #[[NOBUILTIN:[0-9]+]]
# CHECK-LABEL: define <8 x float> @wide(
# CHECK:         call <8 x float> @_ZGVdN8v_tanhf(<8 x float> %v)
# CHECK-NEXT:    call <2 x float> @llvm.tanh.v2f32(<2 x float> %w)
# CHECK-DAG:   declare <4 x float> @_ZGVbN4v_erff(<4 x float>) #[[VEC:[0-9]+]]
# CHECK-DAG:   declare <8 x float> @_ZGVdN8v_erff(<8 x float>) #[[VEC]]
# CHECK-DAG:   declare <4 x float> @_ZGVbN4v_tanhf(<4 x float>) #[[VEC]]
# CHECK-DAG:   declare <8 x float> @_ZGVdN8v_tanhf(<8 x float>) #[[VEC]]
# CHECK-DAG:   @llvm.compiler.used = appending global [4 x ptr] [{{.*}}], section "llvm.metadata"
# CHECK-DAG:   attributes #[[VEC]] = { nounwind willreturn memory(none) }
# CHECK-DAG:   attributes #[[NOBUILTIN]] = { nobuiltin }
# CHECK-DAG:   attributes #[[ERF]] = { "vector-function-abi-variant"="_ZGV_LLVM_N4v_erff(_ZGVbN4v_erff),_ZGV_LLVM_N8v_erff(_ZGVdN8v_erff)" }
# CHECK-DAG:   attributes #[[TANH]] = { "vector-function-abi-variant"="_ZGV_LLVM_N4v_llvm.tanh.f32(_ZGVbN4v_tanhf),_ZGV_LLVM_N8v_llvm.tanh.f32(_ZGVdN8v_tanhf)" }

# OPT-LABEL: define void @loop(
# OPT:         vector.body:
# OPT:         call <8 x float> @_ZGVdN8v_erff(
# OPT:         call <8 x float> @_ZGVdN8v_tanhf(
# OPT:         call <8 x float> @_ZGVdN8v_expf(
# OPT-LABEL: define void @sin_wrapper(
# OPT:    call void @sin(ptr %p, i64 3) #[[NOBUILTIN:[0-9]+]]
# OPT-LABEL: define <8 x float> @wide(
# OPT:         call <8 x float> @_ZGVdN8v_tanhf(
# OPT:       attributes #[[NOBUILTIN]] = { nobuiltin }
