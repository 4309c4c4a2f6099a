;; Loops forever in its start function, i.e. while being instantiated.
(module
  (memory (export "memory") 1 1)
  (func $start (loop $l (br $l)))
  (start $start)
  (func (export "ea_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "ea_on_http") (param i32 i32) (result i32) (i32.const 0)))
