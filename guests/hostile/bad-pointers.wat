;; Hands the host pointers outside its memory and huge lengths, and reports the codes it got back
;; as the response body: eight i32 values.
(module
  (import "ea" "kv_get" (func $kv_get (param i32 i32 i32 i32) (result i32)))
  (import "ea" "kv_put" (func $kv_put (param i32 i32 i32 i32) (result i32)))
  (import "ea" "kv_list" (func $kv_list (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "ea" "log" (func $log (param i32 i32 i32) (result i32)))
  (import "ea" "event_append" (func $event_append (param i32 i32 i32 i32 f64 i32 i32) (result i32)))
  (memory (export "memory") 1 1)
  (data (i32.const 256) "key")
  (func (export "ea_alloc") (param i32) (result i32) (i32.const 1024))
  (func $out (param $i i32) (param $v i32)
    (i32.store (i32.add (i32.const 8) (i32.mul (local.get $i) (i32.const 4))) (local.get $v)))
  (func (export "ea_on_http") (param i32 i32) (result i32)
    ;; key pointer past the end of memory
    (call $out (i32.const 0) (call $kv_put (i32.const 65535) (i32.const 10) (i32.const 256) (i32.const 3)))
    ;; negative (huge unsigned) pointer
    (call $out (i32.const 1) (call $kv_get (i32.const -8) (i32.const 3) (i32.const 300) (i32.const 10)))
    ;; huge length
    (call $out (i32.const 2) (call $kv_put (i32.const 256) (i32.const 3) (i32.const 0) (i32.const 0x7fffffff)))
    ;; output buffer outside memory
    (call $out (i32.const 3) (call $kv_get (i32.const 256) (i32.const 3) (i32.const 65000) (i32.const 4096)))
    ;; log with a length running off the end
    (call $out (i32.const 4) (call $log (i32.const 1) (i32.const 65000) (i32.const 1000)))
    ;; kv_list into a buffer that wraps around
    (call $out (i32.const 5) (call $kv_list (i32.const 256) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const -1) (i32.const 1024)))
    ;; event with a payload pointer outside memory
    (call $out (i32.const 6) (call $event_append (i32.const 256) (i32.const 3) (i32.const 256) (i32.const 3)
                                                  (f64.const 1000) (i32.const 70000) (i32.const 8)))
    ;; an empty key
    (call $out (i32.const 7) (call $kv_put (i32.const 256) (i32.const 0) (i32.const 256) (i32.const 3)))
    (i32.store (i32.const 0) (i32.const 36))
    (i32.store16 (i32.const 4) (i32.const 200))
    (i32.store16 (i32.const 6) (i32.const 0))
    (i32.const 0)))
