//! Per-layer criterion benches at the presets' shapes, plus one full training step a preset.
//! `cargo bench --bench layers` (add `-- conv` to filter). The counting allocator reports the
//! steady-state heap allocations of one training step on stderr.

use convtop::bench::{CountingAlloc, alloc_counts};
use convtop::nn::conv::{Conv2d, ConvGeom};
use convtop::nn::pool::{MaxPool2d, PoolGeom};
use convtop::nn::relu::Relu;
use convtop::nn::{Network, Sgd, SgdConfig};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ndarray::Array4;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::hint::black_box;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

fn random(shape: (usize, usize, usize, usize), seed: u64) -> Array4<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Array4::from_shape_fn(shape, |_| rng.random_range(-1.0..1.0))
}

/// (name, c_in, h, c_out, k, pad): 3×3 and 5×5 convolutions of the presets.
const CONVS: [(&str, usize, usize, usize, usize, usize); 7] = [
    ("mnist_conv2", 8, 14, 16, 5, 2),
    ("cifar_conv1", 3, 32, 16, 5, 2),
    ("cudaconvnet_conv1", 3, 32, 32, 5, 2),
    ("cudaconvnet_conv2", 32, 16, 32, 5, 2),
    ("cudaconvnet_conv3", 32, 8, 64, 5, 2),
    ("vggish_conv2", 32, 32, 32, 3, 1),
    ("vggish_conv6", 128, 8, 128, 3, 1),
];

fn conv(c: &mut Criterion) {
    let n = 64;
    for (name, c_in, h, c_out, k, pad) in CONVS {
        let geom = ConvGeom {
            c_in,
            h,
            w: h,
            kh: k,
            kw: k,
            stride: 1,
            pad,
            oh: h,
            ow: h,
        };
        let mut layer = Conv2d::<f32>::new(geom, c_out);
        layer.w = random((c_out, c_in, k, k), 1);
        let x = random((n, c_in, h, h), 2);
        let dout = random((n, c_out, h, h), 3);
        // forward FLOPs: 2 · n · c_out · oh · ow · c_in · kh · kw; backward twice that
        let flops = (2 * n * c_out * h * h * c_in * k * k) as u64;
        let mut g = c.benchmark_group(format!("conv/{name}/n{n}"));
        g.sample_size(10).throughput(Throughput::Elements(flops));
        g.bench_function("forward", |b| {
            b.iter(|| black_box(layer.forward(x.clone())))
        });
        layer.forward(x.clone());
        g.throughput(Throughput::Elements(2 * flops));
        g.bench_function("backward", |b| {
            b.iter(|| black_box(layer.backward(&dout, true)))
        });
        // a first layer's backward: dW and db only
        g.throughput(Throughput::Elements(flops));
        g.bench_function("backward_dw", |b| {
            b.iter(|| black_box(layer.backward(&dout, false)))
        });
        g.finish();
    }
}

/// The conv kernel against matrixmultiply at the presets' forward shapes (m = c_out, k =
/// c_in·kh·kw, n = oh·ow): the measurement behind the kernel's `unsafe`.
fn gemm(c: &mut Criterion) {
    use convtop::nn::kernel::{Isa, PackedA, Rows, Store, gemm_packed};
    let Some(isa) = Isa::detect() else {
        eprintln!("no packed kernel on this CPU: gemm group skipped");
        return;
    };
    let mut g = c.benchmark_group("gemm");
    for (m, k, n) in [
        (16, 200, 196),
        (16, 75, 1024),
        (32, 288, 1024),
        (128, 1152, 64),
    ] {
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.71).cos()).collect();
        let mut out = vec![0.0f32; m * n];
        g.throughput(Throughput::Elements((2 * m * k * n) as u64));
        let mut packed = PackedA::default();
        g.bench_function(format!("kernel_{m}x{k}x{n}"), |bch| {
            bch.iter(|| {
                packed.pack(isa, &a, m, k, k, 1);
                gemm_packed(
                    isa,
                    &packed,
                    n,
                    &b,
                    Rows::Strided(n),
                    &mut out,
                    n,
                    Store::Overwrite,
                );
                black_box(&out);
            })
        });
        g.bench_function(format!("matrixmultiply_{m}x{k}x{n}"), |bch| {
            bch.iter(|| {
                convtop::nn::gemm::gemm(
                    m,
                    k,
                    n,
                    &a,
                    convtop::nn::gemm::Op::N,
                    &b,
                    convtop::nn::gemm::Op::N,
                    0.0,
                    &mut out,
                );
                black_box(&out);
            })
        });
    }
    g.finish();
}

fn pool_relu(c: &mut Criterion) {
    let x = random((64, 32, 32, 32), 4);
    let mut g = c.benchmark_group("elementwise/64x32x32x32");
    g.sample_size(10);
    let mut pool = MaxPool2d::new(PoolGeom {
        c: 32,
        h: 32,
        w: 32,
        k: 2,
        stride: 2,
        oh: 16,
        ow: 16,
    });
    g.bench_function("maxpool2_forward", |b| {
        b.iter(|| black_box(pool.forward(&x, true)))
    });
    let dpool = random((64, 32, 16, 16), 5);
    g.bench_function("maxpool2_backward", |b| {
        b.iter(|| black_box(pool.backward(&dpool)))
    });
    let mut relu = Relu::<f32>::default();
    g.bench_function("relu_forward", |b| {
        b.iter(|| black_box(relu.forward(x.clone())))
    });
    g.bench_function("relu_backward", |b| b.iter(|| black_box(relu.backward(&x))));
    g.finish();
}

fn train_step(c: &mut Criterion) {
    let cfg = SgdConfig {
        learning_rate: 0.01,
        momentum: 0.9,
        is_nesterov: false,
        lambda: 1e-4,
    };
    for name in ["mnist", "cifar", "vggish"] {
        let Some(p) = convtop::nn::preset(name) else {
            continue;
        };
        let batch = 64;
        let mut net = Network::<f32>::build(p.spec, p.input, 1).expect("preset builds");
        let x = random((batch, p.input[0], p.input[1], p.input[2]), 6);
        let y: Vec<usize> = (0..batch).map(|i| i % 10).collect();
        let mut sgd = Sgd::default();
        let mut step = || {
            net.train_batch(&x, &y, cfg.lambda).expect("shapes match");
            sgd.step(&mut net, &cfg);
        };
        step();
        let counts: Vec<u64> = (0..3)
            .map(|_| {
                let a0 = alloc_counts().0;
                step();
                alloc_counts().0 - a0
            })
            .collect();
        eprintln!("{name} b{batch}: allocations per training step {counts:?}");
        let mut g = c.benchmark_group(format!("train_step/{name}"));
        g.sample_size(10)
            .throughput(Throughput::Elements(batch as u64));
        g.bench_function(format!("b{batch}"), |b| b.iter(&mut step));
        g.finish();
    }
}

// no plots: criterion's plotters backend needs system fonts, which a server may not have
criterion_group! {
    name = benches;
    config = Criterion::default().without_plots();
    targets = gemm, conv, pool_relu, train_step
}
criterion_main!(benches);
