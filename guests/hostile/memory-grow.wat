;; Grows its memory one page at a time until the engine refuses, then answers with the number
;; of pages it reached (status 200, body = u32 pages). Declared maximum: 4 pages.
(module
  (memory (export "memory") 1 4)
  (func (export "ea_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "ea_on_http") (param i32 i32) (result i32)
    (block $done
      (loop $grow
        (br_if $done (i32.eq (memory.grow (i32.const 1)) (i32.const -1)))
        (br $grow)))
    ;; Also try one huge jump past the cap.
    (drop (memory.grow (i32.const 65536)))
    ;; frame at 0: len=8, status=200, ct_len=0, body=u32 pages
    (i32.store (i32.const 0) (i32.const 8))
    (i32.store16 (i32.const 4) (i32.const 200))
    (i32.store16 (i32.const 6) (i32.const 0))
    (i32.store (i32.const 8) (memory.size))
    (i32.const 0)))
