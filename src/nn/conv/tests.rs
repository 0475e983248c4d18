use super::*;

fn geom(
    c_in: usize,
    h: usize,
    w: usize,
    kh: usize,
    kw: usize,
    stride: usize,
    pad: usize,
) -> ConvGeom {
    let oh = (h + 2 * pad - kh) / stride + 1;
    let ow = (w + 2 * pad - kw) / stride + 1;
    ConvGeom {
        c_in,
        h,
        w,
        kh,
        kw,
        stride,
        pad,
        oh,
        ow,
    }
}

#[test]
fn matches_direct_convolution() {
    // 2 images, 2 channels, 5×4 input, 3×2 kernel, stride 2, pad 1: oh = (5+2−3)/2+1 = 3, ow = (4+2−2)/2+1 = 3
    let g = geom(2, 5, 4, 3, 2, 2, 1);
    assert_eq!((g.oh, g.ow), (3, 3));
    let mut conv = Conv2d::<f32>::new(g, 3);
    conv.w = Array4::from_shape_fn((3, 2, 3, 2), |(a, b, c, d)| {
        ((a * 7 + b * 5 + c * 3 + d) as f32 * 0.1).sin()
    });
    conv.b = Array1::from(vec![0.1, -0.2, 0.3]);
    let x = Array4::from_shape_fn((2, 2, 5, 4), |(a, b, c, d)| {
        ((a * 11 + b * 13 + c * 4 + d) as f32 * 0.3).cos()
    });
    let out = conv.forward(x.clone());
    for n in 0..2 {
        for co in 0..3 {
            for oy in 0..3 {
                for ox in 0..3 {
                    let mut s = conv.b[co];
                    for ci in 0..2 {
                        for ki in 0..3 {
                            for kj in 0..2 {
                                let iy = (oy * 2 + ki) as isize - 1;
                                let ix = (ox * 2 + kj) as isize - 1;
                                if (0..5).contains(&iy) && (0..4).contains(&ix) {
                                    s += conv.w[[co, ci, ki, kj]]
                                        * x[[n, ci, iy as usize, ix as usize]];
                                }
                            }
                        }
                    }
                    assert!((out[[n, co, oy, ox]] - s).abs() < 1e-5);
                }
            }
        }
    }
}

#[test]
fn backward_from_saved_columns_matches_recomputed_ones() {
    // 3 images, 2→4 channels, 6×5 input, 3×3 kernel, stride 2, pad 1: oh = (6+2−3)/2+1 = 3
    let g = geom(2, 6, 5, 3, 3, 2, 1);
    let mut conv = Conv2d::<f64>::new(g, 4);
    conv.w = Array4::from_shape_fn((4, 2, 3, 3), |(a, b, c, d)| {
        ((a * 5 + b * 3 + c * 2 + d) as f64 * 0.3).sin()
    });
    let x = Array4::from_shape_fn((3, 2, 6, 5), |(a, b, c, d)| {
        ((a * 7 + b * 11 + c * 5 + d) as f64 * 0.2).cos()
    });
    let dout = Array4::from_shape_fn((3, 4, g.oh, g.ow), |(a, b, c, d)| {
        ((a + b * 2 + c * 3 + d) as f64 * 0.7).sin()
    });
    conv.forward(x.clone());
    assert_eq!(conv.cols_n, 3);
    let dx_saved = conv.backward(&dout, true);
    let dw_saved = conv.dw.clone();
    conv.zero_grad();
    conv.cols_n = 0;
    let dx = conv.backward(&dout, true);
    assert!((&dx - &dx_saved).iter().all(|v| v.abs() < 1e-12));
    assert!((&conv.dw - &dw_saved).iter().all(|v| v.abs() < 1e-12));
}

#[test]
fn small_maps_with_many_filters_go_through_im2col() {
    // vggish's 8×8 layers: 96 grid columns for 64 outputs, 128 filters a column
    assert!(!geom(64, 8, 8, 3, 3, 1, 1).is_implicit(128));
    assert!(!geom(8, 8, 8, 3, 3, 1, 1).is_implicit(64));
    // cifar's 16×16 k5 layer (20 filters) and every 32×32 one stay implicit
    assert!(geom(16, 16, 16, 5, 5, 1, 2).is_implicit(20));
    assert!(geom(32, 32, 32, 3, 3, 1, 1).is_implicit(32));
    assert!(!geom(32, 32, 32, 3, 3, 2, 1).is_implicit(32));
}

#[test]
fn winograd_takes_the_3x3_pad_1_layers_with_enough_channels() {
    use super::winograd::Wino;
    if std::env::var_os("CONVTOP_NO_WINOGRAD").is_some() {
        eprintln!("skipped: CONVTOP_NO_WINOGRAD is set");
        return;
    }
    // vggish's layers past the first, and the 8×8 ones too
    assert!(Wino::of_layer(&geom(32, 32, 32, 3, 3, 1, 1), 32).is_some());
    assert!(Wino::of_layer(&geom(128, 8, 8, 3, 3, 1, 1), 128).is_some());
    // its 3-channel first layer, `seed`'s 10 filters, odd maps, stride 2, 5×5, pad 0, and maps
    // beyond 32×32 stay on the direct kernel
    assert!(Wino::of_layer(&geom(3, 32, 32, 3, 3, 1, 1), 32).is_none());
    assert!(Wino::of_layer(&geom(10, 32, 32, 3, 3, 1, 1), 10).is_none());
    assert!(Wino::of_layer(&geom(32, 7, 7, 3, 3, 1, 1), 32).is_none());
    assert!(Wino::of_layer(&geom(32, 32, 32, 3, 3, 2, 1), 32).is_none());
    assert!(Wino::of_layer(&geom(32, 32, 32, 5, 5, 1, 2), 32).is_none());
    assert!(Wino::of_layer(&geom(32, 32, 32, 3, 3, 1, 0), 32).is_none());
    assert!(Wino::of_layer(&geom(32, 64, 64, 3, 3, 1, 1), 32).is_none());
}

#[test]
fn packed_f32_path_matches_the_general_f64_path() {
    // stride 1 and 2, padding, more filters than a kernel panel holds and an odd width, so
    // every edge of the packed kernel and of im2row is crossed
    for (g, c_out) in [
        (geom(3, 9, 7, 3, 3, 1, 1), 11),
        (geom(2, 6, 5, 3, 2, 2, 1), 4),
        (geom(1, 28, 28, 5, 5, 1, 2), 8),
        (geom(2, 7, 6, 3, 2, 1, 0), 9),
        (geom(2, 6, 6, 2, 2, 1, 2), 3),
        // stride 1 through im2col: a small map with many filters (see is_implicit)
        (geom(8, 8, 8, 3, 3, 1, 1), 64),
        // implicit with the output read as a grid (rows of whole half panels): cudaconvnet's
        // conv1 and conv2, and a filter count that leaves a partial panel
        (geom(3, 32, 32, 5, 5, 1, 2), 32),
        (geom(32, 16, 16, 5, 5, 1, 2), 32),
        (geom(4, 16, 16, 5, 5, 1, 2), 10),
        // im2row's fixed-width copies: cudaconvnet's conv3 (5 wide), 5 wide at stride 2, 7 wide
        (geom(32, 8, 8, 5, 5, 1, 2), 64),
        (geom(3, 11, 11, 5, 5, 2, 2), 6),
        (geom(4, 9, 9, 7, 7, 1, 3), 40),
        // Winograd (avx512): blocks across two images, a partial last block, a row of tiles
        // longer than a vector, more filters than channels and the reverse
        (geom(16, 8, 6, 3, 3, 1, 1), 17),
        (geom(20, 16, 16, 3, 3, 1, 1), 16),
        (geom(16, 4, 36, 3, 3, 1, 1), 24),
        (geom(64, 8, 8, 3, 3, 1, 1), 32),
    ] {
        let n = 5;
        let mut c32 = Conv2d::<f32>::new(g, c_out);
        let mut c64 = Conv2d::<f64>::new(g, c_out);
        if c32.path.isa().is_none() {
            eprintln!("skipped: no packed kernel on this CPU");
            return;
        }
        let wf = |(a, b, c, d): (usize, usize, usize, usize)| {
            ((a * 5 + b * 3 + c * 2 + d) as f64 * 0.3).sin()
        };
        c64.w = Array4::from_shape_fn((c_out, g.c_in, g.kh, g.kw), wf);
        c32.w = c64.w.mapv(|v| v as f32);
        c64.b = Array1::from_shape_fn(c_out, |i| i as f64 * 0.1);
        c32.b = c64.b.mapv(|v| v as f32);
        let x = Array4::from_shape_fn((n, g.c_in, g.h, g.w), |(a, b, c, d)| {
            ((a * 7 + b * 11 + c * 5 + d) as f64 * 0.2).cos()
        });
        let dout = Array4::from_shape_fn((n, c_out, g.oh, g.ow), |(a, b, c, d)| {
            ((a + b * 2 + c * 3 + d) as f64 * 0.7).sin()
        });
        let close = |a: f32, b: f64| (f64::from(a) - b).abs() < 1e-4 * (1.0 + b.abs());
        let y32 = c32.forward(x.mapv(|v| v as f32));
        let y64 = c64.forward(x.clone());
        assert!(
            y32.iter().zip(&y64).all(|(a, b)| close(*a, *b)),
            "forward {g:?}"
        );
        let dx32 = c32.backward(&dout.mapv(|v| v as f32), true);
        let dx64 = c64.backward(&dout, true);
        assert!(
            dx32.iter().zip(&dx64).all(|(a, b)| close(*a, *b)),
            "dx {g:?}"
        );
        assert!(
            c32.dw.iter().zip(&c64.dw).all(|(a, b)| close(*a, *b)),
            "dw {g:?}"
        );
        assert!(
            c32.db.iter().zip(&c64.db).all(|(a, b)| close(*a, *b)),
            "db {g:?}"
        );
    }
}

#[test]
fn the_path_is_chosen_once_from_geometry_type_and_cpu() {
    let geom = |c_in, hw, k, stride, pad| ConvGeom {
        c_in,
        h: hw,
        w: hw,
        kh: k,
        kw: k,
        stride,
        pad,
        oh: (hw + 2 * pad - k) / stride + 1,
        ow: (hw + 2 * pad - k) / stride + 1,
    };
    // f64 (the gradient checks) always takes the generic path
    let wide = geom(64, 16, 3, 1, 1);
    assert_eq!(Conv2d::<f64>::new(wide, 64).path(), ConvPath::Generic);
    let Some(isa) = crate::nn::kernel::Isa::detect() else {
        assert_eq!(Conv2d::<f32>::new(wide, 64).path(), ConvPath::Generic);
        println!("skipped: this CPU has neither AVX2 nor AVX-512");
        return;
    };
    let path = Conv2d::<f32>::new(wide, 64).path();
    assert!(matches!(path, ConvPath::Winograd { .. }), "{path}");
    assert_eq!(path.isa(), Some(isa));
    // the cifar preset's first layer: 5×5 stride 1 on 32×32, read in place
    let first = Conv2d::<f32>::new(geom(3, 32, 5, 1, 2), 16).path();
    assert_eq!(first, ConvPath::Implicit { isa }, "{first}");
    // stride 2 goes through im2col
    let strided = Conv2d::<f32>::new(geom(3, 32, 3, 2, 1), 16).path();
    assert_eq!(strided, ConvPath::Packed { isa }, "{strided}");
    assert!(strided.to_string().starts_with("im2col "), "{strided}");
}
