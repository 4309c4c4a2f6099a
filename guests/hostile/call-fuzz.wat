;; Calls host imports with pseudo-random pointers, lengths and values (test/fuzz/host-calls.test.ts).
;; The request body ends with four i32: the LCG seed, the number of calls, the import to call (0-8 in
;; the order of the imports below; -1: a random one per call), and whether to keep what the calls did.
;; Kept: the response body is three i32: calls answered >= 0, calls answered with an ABI error
;; (-7..-1), and calls answered anything else. Not kept: the response pointer is outside memory, so
;; the host refuses the call and rolls it back (the store does not grow over a million calls).
(module
  (import "ea" "log" (func $log (param i32 i32 i32) (result i32)))
  (import "ea" "clock_now_ms" (func $now (result f64)))
  (import "ea" "config_get" (func $config_get (param i32 i32 i32 i32) (result i32)))
  (import "ea" "kv_get" (func $kv_get (param i32 i32 i32 i32) (result i32)))
  (import "ea" "kv_put" (func $kv_put (param i32 i32 i32 i32) (result i32)))
  (import "ea" "kv_delete" (func $kv_delete (param i32 i32) (result i32)))
  (import "ea" "kv_list" (func $kv_list (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "ea" "event_append" (func $event_append (param i32 i32 i32 i32 f64 i32 i32) (result i32)))
  (import "ea" "metric_add" (func $metric_add (param i32 i32 f64) (result i32)))
  (memory (export "memory") 1 1)
  ;; Text worth pointing at: names the host accepts, and bytes that are not UTF-8.
  (data (i32.const 64) "namekeyk2fuzz_calls_totalpartition-asource-b\ff\fe\c3\28\ed\a0\80")
  (global $s (mut i32) (i32.const 0))

  (func $rnd (result i32)
    (global.set $s (i32.add (i32.mul (global.get $s) (i32.const 1664525)) (i32.const 1013904223)))
    (i32.xor (global.get $s) (i32.shr_u (global.get $s) (i32.const 15))))

  ;; Anywhere in the address space, near the end of memory, inside memory, or in the named data.
  (func $ptr (result i32) (local $r i32)
    (local.set $r (i32.and (call $rnd) (i32.const 3)))
    (if (i32.eqz (local.get $r)) (then (return (call $rnd))))
    (if (i32.eq (local.get $r) (i32.const 1)) (then (return (i32.sub (i32.const 65536) (i32.and (call $rnd) (i32.const 1023))))))
    (if (i32.eq (local.get $r) (i32.const 2)) (then (return (i32.and (call $rnd) (i32.const 0xffff)))))
    (i32.add (i32.const 64) (i32.and (call $rnd) (i32.const 63))))

  ;; Any u32, up to 128 KiB, up to 4 KiB, or a few bytes (often 0).
  (func $len (result i32) (local $r i32)
    (local.set $r (i32.and (call $rnd) (i32.const 3)))
    (if (i32.eqz (local.get $r)) (then (return (call $rnd))))
    (if (i32.eq (local.get $r) (i32.const 1)) (then (return (i32.and (call $rnd) (i32.const 0x1ffff)))))
    (if (i32.eq (local.get $r) (i32.const 2)) (then (return (i32.and (call $rnd) (i32.const 0xfff)))))
    (i32.and (call $rnd) (i32.const 31)))

  ;; A double from a few integers, fractions, negatives, infinities and NaN.
  (func $num (result f64) (local $r i32)
    (local.set $r (i32.and (call $rnd) (i32.const 3)))
    (if (i32.eqz (local.get $r)) (then (return (f64.const 1000))))
    (if (i32.eq (local.get $r) (i32.const 1)) (then (return (f64.div (f64.convert_i32_s (call $rnd)) (f64.const 7)))))
    (if (i32.eq (local.get $r) (i32.const 2)) (then (return (f64.div (f64.const 1) (f64.convert_i32_s (i32.and (call $rnd) (i32.const 1)))))))
    (f64.convert_i32_u (i32.and (call $rnd) (i32.const 0xff))))

  (func $one (param $which i32) (result i32)
    (block $metric (block $event (block $list (block $del (block $put (block $get (block $config (block $clock (block $log
      (br_table $log $clock $config $get $put $del $list $event $metric $log (local.get $which)))
      (return (call $log (i32.and (call $rnd) (i32.const 7)) (call $ptr) (call $len))))
      (drop (call $now)) (return (i32.const 0)))
      (return (call $config_get (call $ptr) (call $len) (call $ptr) (call $len))))
      (return (call $kv_get (call $ptr) (call $len) (call $ptr) (call $len))))
      (return (call $kv_put (call $ptr) (call $len) (call $ptr) (call $len))))
      (return (call $kv_delete (call $ptr) (call $len))))
      (return (call $kv_list (call $ptr) (call $len) (call $ptr) (call $len) (call $ptr) (call $len))))
      (return (call $event_append (call $ptr) (call $len) (call $ptr) (call $len) (call $num) (call $ptr) (call $len))))
    (call $metric_add (call $ptr) (call $len) (call $num)))

  (func (export "ea_alloc") (param i32) (result i32) (i32.const 32768))

  (func (export "ea_on_http") (param $p i32) (param $n i32) (result i32)
    (local $end i32) (local $i i32) (local $calls i32) (local $only i32) (local $ret i32)
    (local $ok i32) (local $abi i32) (local $other i32) (local $keep i32)
    (local.set $end (i32.add (local.get $p) (local.get $n)))
    (global.set $s (i32.load (i32.sub (local.get $end) (i32.const 16))))
    (local.set $calls (i32.load (i32.sub (local.get $end) (i32.const 12))))
    (local.set $only (i32.load (i32.sub (local.get $end) (i32.const 8))))
    (local.set $keep (i32.load (i32.sub (local.get $end) (i32.const 4))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $calls)))
        (local.set $ret (call $one (if (result i32) (i32.lt_s (local.get $only) (i32.const 0))
          (then (i32.rem_u (call $rnd) (i32.const 9)))
          (else (local.get $only)))))
        (if (i32.ge_s (local.get $ret) (i32.const 0))
          (then (local.set $ok (i32.add (local.get $ok) (i32.const 1))))
          (else (if (i32.ge_s (local.get $ret) (i32.const -7))
            (then (local.set $abi (i32.add (local.get $abi) (i32.const 1))))
            (else (local.set $other (i32.add (local.get $other) (i32.const 1)))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (if (i32.eqz (local.get $keep)) (then (return (i32.const -1))))
    ;; Response frame at 0: length, status 200, no content type, the three counts.
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store16 (i32.const 4) (i32.const 200))
    (i32.store16 (i32.const 6) (i32.const 0))
    (i32.store (i32.const 8) (local.get $ok))
    (i32.store (i32.const 12) (local.get $abi))
    (i32.store (i32.const 16) (local.get $other))
    (i32.const 0)))
