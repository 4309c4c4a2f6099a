;; Traps in the way the request's path says: /unreachable, /oob (memory access out of bounds),
;; /div0 (integer division by zero), /bad-frame (returns a pointer outside memory).
(module
  (import "ea" "log" (func $log (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1 1)
  (data (i32.const 512) "/unreachable/oob/div0/bad-frame")
  (func (export "ea_alloc") (param i32) (result i32) (i32.const 1024))
  ;; path starts at input+6 (after the 4-byte header and the u16 path length); compare its 2nd char
  (func (export "ea_on_http") (param $p i32) (param $n i32) (result i32)
    (local $c i32)
    (local.set $c (i32.load8_u (i32.add (local.get $p) (i32.const 7))))
    (if (i32.eq (local.get $c) (i32.const 117)) (then unreachable)) ;; 'u'
    (if (i32.eq (local.get $c) (i32.const 111)) (then (drop (i32.load (i32.const 70000))))) ;; 'o'
    (if (i32.eq (local.get $c) (i32.const 100)) (then (drop (i32.div_u (i32.const 1) (i32.const 0))))) ;; 'd'
    (if (i32.eq (local.get $c) (i32.const 98)) (then (return (i32.const 65530)))) ;; 'b'
    (i32.store (i32.const 0) (i32.const 4))
    (i32.store16 (i32.const 4) (i32.const 204))
    (i32.store16 (i32.const 6) (i32.const 0))
    (i32.const 0)))
