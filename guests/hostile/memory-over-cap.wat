;; Declares a maximum of 2 GiB (32768 pages), far above the node's 64 MiB cap: refused at load.
(module
  (memory (export "memory") 1 32768)
  (func (export "ea_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "ea_on_http") (param i32 i32) (result i32) (i32.const 0)))
