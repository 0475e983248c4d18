use std::time::Instant;
fn main() {
    for &(m, k, n) in &[
        (32usize, 288usize, 1024usize),
        (64, 576, 256),
        (128, 1152, 64),
        (288, 32, 1024),
        (32, 1024, 288),
        (16, 200, 196),
        (256, 256, 256),
        (512, 512, 512),
    ] {
        let a = vec![0.5f32; m * k];
        let b = vec![0.25f32; k * n];
        let mut c = vec![0.0f32; m * n];
        let mut best = f64::MAX;
        let iters = (2e9 / (2.0 * (m * k * n) as f64)).max(1.0) as usize;
        for _ in 0..5 {
            let t = Instant::now();
            for _ in 0..iters {
                unsafe {
                    matrixmultiply::sgemm(
                        m,
                        k,
                        n,
                        1.0,
                        a.as_ptr(),
                        k as isize,
                        1,
                        b.as_ptr(),
                        n as isize,
                        1,
                        0.0,
                        c.as_mut_ptr(),
                        n as isize,
                        1,
                    )
                }
            }
            best = best.min(t.elapsed().as_secs_f64() / iters as f64);
        }
        println!(
            "{m}x{k}x{n}: {:.1} GFLOP/s",
            2.0 * (m * k * n) as f64 / best / 1e9
        );
    }
}
