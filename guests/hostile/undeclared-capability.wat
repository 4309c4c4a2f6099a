;; Imports kv functions; loaded with a manifest that does not declare kv (refused), or that
;; declares it without the operator granting it (calls return DENIED). Body: the kv_put code.
(module
  (import "ea" "kv_put" (func $kv_put (param i32 i32 i32 i32) (result i32)))
  (import "ea" "clock_now_ms" (func $now (result f64)))
  (memory (export "memory") 1 1)
  (data (i32.const 256) "key")
  (func (export "ea_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "ea_on_http") (param i32 i32) (result i32)
    (i32.store (i32.const 8) (call $kv_put (i32.const 256) (i32.const 3) (i32.const 256) (i32.const 3)))
    (f64.store (i32.const 12) (call $now))
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store16 (i32.const 4) (i32.const 200))
    (i32.store16 (i32.const 6) (i32.const 0))
    (i32.const 0)))
