;; Declares a memory with no maximum: refused at load.
(module
  (memory (export "memory") 1)
  (func (export "ea_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "ea_on_http") (param i32 i32) (result i32) (i32.const 0)))
