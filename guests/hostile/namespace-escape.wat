;; Tries to read a key of another module's namespace by naming it in the key ("other@1.0.0/secret",
;; "../other@1.0.0/secret", "secret"). Response body: three i32 codes from kv_get.
(module
  (import "ea" "kv_get" (func $kv_get (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1 1)
  (data (i32.const 256) "other@1.0.0/secret")
  (data (i32.const 300) "../other@1.0.0/secret")
  (data (i32.const 350) "secret")
  (data (i32.const 360) "other@1.0.0\00secret")
  (func (export "ea_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "ea_on_http") (param i32 i32) (result i32)
    (i32.store (i32.const 8) (call $kv_get (i32.const 256) (i32.const 18) (i32.const 2048) (i32.const 1024)))
    (i32.store (i32.const 12) (call $kv_get (i32.const 300) (i32.const 21) (i32.const 2048) (i32.const 1024)))
    (i32.store (i32.const 16) (call $kv_get (i32.const 350) (i32.const 6) (i32.const 2048) (i32.const 1024)))
    (i32.store (i32.const 20) (call $kv_get (i32.const 360) (i32.const 18) (i32.const 2048) (i32.const 1024)))
    (i32.store (i32.const 0) (i32.const 20))
    (i32.store16 (i32.const 4) (i32.const 200))
    (i32.store16 (i32.const 6) (i32.const 0))
    (i32.const 0)))
