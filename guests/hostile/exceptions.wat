;; Uses exception handling, with which a guest could catch the host's deadline: refused at load.
(module
  (tag $e)
  (memory (export "memory") 1 1)
  (func (export "ea_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "ea_on_http") (param i32 i32) (result i32)
    (try (do (throw $e)) (catch_all))
    (i32.const 0)))
