;; Exponential recursion with no loop instruction at all (fib 60): only the fuel check at
;; function entry can stop it.
(module
  (memory (export "memory") 1 1)
  (func $fib (param $n i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
      (then (local.get $n))
      (else (i32.add (call $fib (i32.sub (local.get $n) (i32.const 1)))
                     (call $fib (i32.sub (local.get $n) (i32.const 2)))))))
  (func (export "ea_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "ea_on_http") (param i32 i32) (result i32)
    (drop (call $fib (i32.const 60)))
    (i32.const 0)))
