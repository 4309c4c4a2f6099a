;; Tries to carry state from one request to the next: a mutable global, a byte in its data area
;; and a byte in free memory are incremented on every request and reported (body: three i32).
;; Each request must see 1, 1, 1: the values it would see on a fresh instance plus its own write.
(module
  (memory (export "memory") 1 1)
  (global $counter (mut i32) (i32.const 0))
  (data (i32.const 512) "\00")
  (func (export "ea_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "ea_on_http") (param i32 i32) (result i32)
    (global.set $counter (i32.add (global.get $counter) (i32.const 1)))
    (i32.store8 (i32.const 512) (i32.add (i32.load8_u (i32.const 512)) (i32.const 1)))
    (i32.store8 (i32.const 60000) (i32.add (i32.load8_u (i32.const 60000)) (i32.const 1)))
    (i32.store (i32.const 8) (global.get $counter))
    (i32.store (i32.const 12) (i32.load8_u (i32.const 512)))
    (i32.store (i32.const 16) (i32.load8_u (i32.const 60000)))
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store16 (i32.const 4) (i32.const 200))
    (i32.store16 (i32.const 6) (i32.const 0))
    (i32.const 0)))
