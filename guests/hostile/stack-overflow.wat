;; Recurses without end: the engine's stack overflows.
(module
  (memory (export "memory") 1 1)
  (func $down (param i32) (result i32)
    (i32.add (call $down (i32.add (local.get 0) (i32.const 1))) (i32.const 1)))
  (func (export "ea_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "ea_on_http") (param i32 i32) (result i32)
    (drop (call $down (i32.const 0)))
    (i32.const 0)))
