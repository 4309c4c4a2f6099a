;; Spins forever inside a request. The host must stop it at its deadline and keep serving.
(module
  (memory (export "memory") 1 1)
  (func (export "ea_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "ea_on_http") (param i32 i32) (result i32)
    (loop $forever (br $forever))
    (i32.const 0)))
