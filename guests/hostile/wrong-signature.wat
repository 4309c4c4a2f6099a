;; Imports an ABI function with the wrong signature: refused at load.
(module
  (import "ea" "kv_get" (func (param i64) (result i32)))
  (memory (export "memory") 1 1)
  (func (export "ea_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "ea_on_http") (param i32 i32) (result i32) (i32.const 0)))
