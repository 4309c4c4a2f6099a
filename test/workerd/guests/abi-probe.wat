;; A guest that probes the host ABI for test/workerd/host-abi-differential.test.ts. The first character of
;; the query picks what it does; the body it answers is the i32 results of its host calls (or a value read):
;;   w  put k=v1 and append event (p, s, 1000, "x")     c  append (p, s, 1000) with another payload
;;   t  put k=v2, append (p, s, 2000), then trap          b  put k=v3, then answer a frame outside memory
;;   r  the value of k                                    f  the number of events folded so far
;;   e  calls with bad arguments: each answers its error code
;; ea_on_events adds the number of events it is given to the little-endian u32 under key "folds".
(module
  (import "ea" "log" (func $log (param i32 i32 i32) (result i32)))
  (import "ea" "config_get" (func $config_get (param i32 i32 i32 i32) (result i32)))
  (import "ea" "kv_get" (func $kv_get (param i32 i32 i32 i32) (result i32)))
  (import "ea" "kv_put" (func $kv_put (param i32 i32 i32 i32) (result i32)))
  (import "ea" "kv_list" (func $kv_list (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "ea" "event_append" (func $event_append (param i32 i32 i32 i32 f64 i32 i32) (result i32)))
  (memory (export "memory") 1 1)
  (data (i32.const 256) "k")
  (data (i32.const 260) "v1")
  (data (i32.const 264) "v2")
  (data (i32.const 268) "v3")
  (data (i32.const 272) "folds")
  (data (i32.const 280) "p")
  (data (i32.const 284) "s")
  (data (i32.const 288) "x")
  (data (i32.const 296) "grace_period_ms")
  ;; bytes of the response body so far (the body starts at 8, after the frame's header)
  (global $len (mut i32) (i32.const 0))
  (func (export "ea_alloc") (param i32) (result i32) (i32.const 1024))
  (func $out (param $v i32)
    (i32.store (i32.add (i32.const 8) (global.get $len)) (local.get $v))
    (global.set $len (i32.add (global.get $len) (i32.const 4))))
  (func $respond (param $status i32) (result i32)
    (i32.store (i32.const 0) (i32.add (i32.const 4) (global.get $len)))
    (i32.store16 (i32.const 4) (local.get $status))
    (i32.store16 (i32.const 6) (i32.const 0))
    (i32.const 0))
  ;; the value under a key as the body, or the error code
  (func $value (param $key i32) (param $keyLen i32) (result i32)
    (local $r i32)
    (local.set $r (call $kv_get (local.get $key) (local.get $keyLen) (i32.const 8) (i32.const 64)))
    (if (i32.lt_s (local.get $r) (i32.const 0))
      (then (call $out (local.get $r)))
      (else (global.set $len (local.get $r))))
    (call $respond (i32.const 200)))
  (func (export "ea_on_http") (param $p i32) (param $n i32) (result i32)
    (local $q i32)
    (local $c i32)
    ;; the query's u16 length follows the path: at p + 4 + 2 + path length
    (local.set $q (i32.add (i32.add (local.get $p) (i32.const 6)) (i32.load16_u (i32.add (local.get $p) (i32.const 4)))))
    (if (i32.eqz (i32.load16_u (local.get $q))) (then (return (call $respond (i32.const 400)))))
    (local.set $c (i32.load8_u (i32.add (local.get $q) (i32.const 2))))
    (if (i32.eq (local.get $c) (i32.const 119)) (then ;; w
      (call $out (call $kv_put (i32.const 256) (i32.const 1) (i32.const 260) (i32.const 2)))
      (call $out (call $event_append (i32.const 280) (i32.const 1) (i32.const 284) (i32.const 1) (f64.const 1000) (i32.const 288) (i32.const 1)))
      (return (call $respond (i32.const 200)))))
    (if (i32.eq (local.get $c) (i32.const 99)) (then ;; c
      (call $out (call $event_append (i32.const 280) (i32.const 1) (i32.const 284) (i32.const 1) (f64.const 1000) (i32.const 260) (i32.const 2)))
      (return (call $respond (i32.const 200)))))
    (if (i32.eq (local.get $c) (i32.const 116)) (then ;; t
      (drop (call $kv_put (i32.const 256) (i32.const 1) (i32.const 264) (i32.const 2)))
      (drop (call $event_append (i32.const 280) (i32.const 1) (i32.const 284) (i32.const 1) (f64.const 2000) (i32.const 288) (i32.const 1)))
      unreachable))
    (if (i32.eq (local.get $c) (i32.const 98)) (then ;; b
      (drop (call $kv_put (i32.const 256) (i32.const 1) (i32.const 268) (i32.const 2)))
      (return (i32.const 65530))))
    (if (i32.eq (local.get $c) (i32.const 114)) (then ;; r
      (return (call $value (i32.const 256) (i32.const 1)))))
    (if (i32.eq (local.get $c) (i32.const 102)) (then ;; f
      (return (call $value (i32.const 272) (i32.const 5)))))
    (if (i32.eq (local.get $c) (i32.const 101)) (then ;; e
      ;; key past the end of memory: OUT_OF_BOUNDS
      (call $out (call $kv_put (i32.const 65535) (i32.const 10) (i32.const 260) (i32.const 2)))
      ;; a key of 513 bytes: TOO_LARGE
      (call $out (call $kv_get (i32.const 256) (i32.const 513) (i32.const 8) (i32.const 64)))
      ;; an empty key: INVALID
      (call $out (call $kv_put (i32.const 256) (i32.const 0) (i32.const 260) (i32.const 2)))
      ;; a list buffer under 514 bytes: INVALID
      (call $out (call $kv_list (i32.const 256) (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 512) (i32.const 100)))
      ;; a time that is not an integer: INVALID
      (call $out (call $event_append (i32.const 280) (i32.const 1) (i32.const 284) (i32.const 1) (f64.const 1.5) (i32.const 288) (i32.const 1)))
      ;; an unknown log level: INVALID
      (call $out (call $log (i32.const 9) (i32.const 256) (i32.const 1)))
      ;; a config value longer than the buffer: its length, nothing copied
      (call $out (call $config_get (i32.const 296) (i32.const 15) (i32.const 512) (i32.const 2)))
      ;; a config key that is not set: NOT_FOUND
      (call $out (call $config_get (i32.const 280) (i32.const 1) (i32.const 512) (i32.const 64)))
      ;; an output buffer past the end of memory: OUT_OF_BOUNDS
      (call $out (call $kv_get (i32.const 256) (i32.const 1) (i32.const 65530) (i32.const 100)))
      (return (call $respond (i32.const 200)))))
    (call $respond (i32.const 404)))
  (func (export "ea_on_events") (param $p i32) (param $n i32) (result i32)
    (if (i32.lt_s (call $kv_get (i32.const 272) (i32.const 5) (i32.const 600) (i32.const 4)) (i32.const 0))
      (then (i32.store (i32.const 600) (i32.const 0))))
    (i32.store (i32.const 600) (i32.add (i32.load (i32.const 600)) (i32.load (local.get $p))))
    (drop (call $kv_put (i32.const 272) (i32.const 5) (i32.const 600) (i32.const 4)))
    (i32.const 0)))
