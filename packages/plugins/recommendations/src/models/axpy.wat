(module
  (memory (export "memory") 1)
  ;; acc[0..bytes) += wa*A + wb*B + wc*C + wd*D, all f32, 16 bytes (4 lanes) per step.
  (func (export "axpy4") (param $acc i32) (param $a i32) (param $b i32) (param $c i32) (param $d i32)
        (param $wa f32) (param $wb f32) (param $wc f32) (param $wd f32) (param $bytes i32)
    (local $i i32) (local $va v128) (local $vb v128) (local $vc v128) (local $vd v128)
    (local.set $va (f32x4.splat (local.get $wa)))
    (local.set $vb (f32x4.splat (local.get $wb)))
    (local.set $vc (f32x4.splat (local.get $wc)))
    (local.set $vd (f32x4.splat (local.get $wd)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $bytes)))
        (v128.store
          (i32.add (local.get $acc) (local.get $i))
          (f32x4.add
            (f32x4.add
              (v128.load (i32.add (local.get $acc) (local.get $i)))
              (f32x4.add
                (f32x4.mul (local.get $va) (v128.load (i32.add (local.get $a) (local.get $i))))
                (f32x4.mul (local.get $vb) (v128.load (i32.add (local.get $b) (local.get $i))))))
            (f32x4.add
              (f32x4.mul (local.get $vc) (v128.load (i32.add (local.get $c) (local.get $i))))
              (f32x4.mul (local.get $vd) (v128.load (i32.add (local.get $d) (local.get $i)))))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $next))))
  ;; acc[0..bytes) += wa*A
  (func (export "axpy1") (param $acc i32) (param $a i32) (param $wa f32) (param $bytes i32)
    (local $i i32) (local $va v128)
    (local.set $va (f32x4.splat (local.get $wa)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $bytes)))
        (v128.store
          (i32.add (local.get $acc) (local.get $i))
          (f32x4.add
            (v128.load (i32.add (local.get $acc) (local.get $i)))
            (f32x4.mul (local.get $va) (v128.load (i32.add (local.get $a) (local.get $i))))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $next))))
  ;; The same over int8 rows (each row's scale folded into its weight by the caller): the
  ;; f32 acc[0..cols) += wa*A + ... + wd*D, 8 columns (8 bytes of each row) per step.
  (func (export "axpy4i8") (param $acc i32) (param $a i32) (param $b i32) (param $c i32) (param $d i32)
        (param $wa f32) (param $wb f32) (param $wc f32) (param $wd f32) (param $cols i32)
    (local $i i32) (local $p i32) (local $va v128) (local $vb v128) (local $vc v128) (local $vd v128)
    (local $xa v128) (local $xb v128) (local $xc v128) (local $xd v128)
    (local.set $va (f32x4.splat (local.get $wa)))
    (local.set $vb (f32x4.splat (local.get $wb)))
    (local.set $vc (f32x4.splat (local.get $wc)))
    (local.set $vd (f32x4.splat (local.get $wd)))
    (local.set $p (local.get $acc))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $cols)))
        (local.set $xa (i16x8.extend_low_i8x16_s (v128.load64_splat (i32.add (local.get $a) (local.get $i)))))
        (local.set $xb (i16x8.extend_low_i8x16_s (v128.load64_splat (i32.add (local.get $b) (local.get $i)))))
        (local.set $xc (i16x8.extend_low_i8x16_s (v128.load64_splat (i32.add (local.get $c) (local.get $i)))))
        (local.set $xd (i16x8.extend_low_i8x16_s (v128.load64_splat (i32.add (local.get $d) (local.get $i)))))
        (v128.store (local.get $p)
          (f32x4.add (v128.load (local.get $p))
            (f32x4.add
              (f32x4.add (f32x4.mul (local.get $va) (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $xa))))
                         (f32x4.mul (local.get $vb) (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $xb)))))
              (f32x4.add (f32x4.mul (local.get $vc) (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $xc))))
                         (f32x4.mul (local.get $vd) (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $xd))))))))
        (v128.store offset=16 (local.get $p)
          (f32x4.add (v128.load offset=16 (local.get $p))
            (f32x4.add
              (f32x4.add (f32x4.mul (local.get $va) (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $xa))))
                         (f32x4.mul (local.get $vb) (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $xb)))))
              (f32x4.add (f32x4.mul (local.get $vc) (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $xc))))
                         (f32x4.mul (local.get $vd) (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $xd))))))))
        (local.set $p (i32.add (local.get $p) (i32.const 32)))
        (local.set $i (i32.add (local.get $i) (i32.const 8)))
        (br $next))))
  ;; acc[0..cols) += wa*A over an int8 row
  (func (export "axpy1i8") (param $acc i32) (param $a i32) (param $wa f32) (param $cols i32)
    (local $i i32) (local $p i32) (local $va v128) (local $xa v128)
    (local.set $va (f32x4.splat (local.get $wa)))
    (local.set $p (local.get $acc))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $cols)))
        (local.set $xa (i16x8.extend_low_i8x16_s (v128.load64_splat (i32.add (local.get $a) (local.get $i)))))
        (v128.store (local.get $p)
          (f32x4.add (v128.load (local.get $p))
            (f32x4.mul (local.get $va) (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $xa))))))
        (v128.store offset=16 (local.get $p)
          (f32x4.add (v128.load offset=16 (local.get $p))
            (f32x4.mul (local.get $va) (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $xa))))))
        (local.set $p (i32.add (local.get $p) (i32.const 32)))
        (local.set $i (i32.add (local.get $i) (i32.const 8)))
        (br $next))))
)
