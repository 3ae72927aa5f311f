//! Recommend latency for a 100k-item x 64-factor ALS model, in process and over HTTP (p50, p99),
//! set against the memory-bandwidth bound of one scan of the item factors, measured in the
//! same run. `cargo bench --bench recommend_latency`; writes
//! benches/results/recommend_latency.json.

use shopgraph::cf::Csr;
use shopgraph::cf::Model;
use shopgraph::cf::als::{AlsModel, AlsParams, Solver};
use shopgraph::config::Config;
use shopgraph::engine::Engine;
use shopgraph::ingest::pseudonym::Pseudonymizer;
use shopgraph::recommend::facets::Filter;
use shopgraph::recommend::{Algorithm, Meta, Trained};
use shopgraph::store::Store;
use std::time::{Duration, Instant};

const ITEMS: usize = 100_000;
const USERS: usize = 10_000;
const F: usize = 64;

fn percentile(v: &mut [Duration], p: f64) -> f64 {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1e3
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn f(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    }
}

fn main() {
    let engine = Engine::with_parts(
        Config { memory: true, query_threads: 2, ..Config::default() },
        Store::memory().expect("store"),
        Pseudonymizer::with_key([1; 32]),
    )
    .expect("engine");
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let params = AlsParams {
        factors: F,
        regularization: 0.01,
        alpha: 1.0,
        iterations: 0,
        solver: Solver::Cg { steps: 3 },
        seed: 0,
    };
    let model = AlsModel {
        params,
        user_factors: (0..USERS * F).map(|_| rng.f()).collect(),
        item_factors: (0..ITEMS * F).map(|_| rng.f()).collect(),
    };
    let mut t = Vec::new();
    for u in 0..USERS as u32 {
        for _ in 0..20 {
            t.push((u, (rng.next() % ITEMS as u64) as u32, 1.0));
        }
    }
    let history = Csr::from_triplets(USERS, ITEMS, &t);
    let users: Vec<String> = (0..USERS).map(|u| engine.user_key(&format!("u{u}"))).collect();
    let trained = Trained {
        model: Model::Als(model),
        users,
        items: (0..ITEMS).map(|i| format!("p{i}")).collect(),
        popularity: shopgraph::cf::baselines::Popularity::fit(&history).counts,
        ages: vec![0; history.nnz()],
        history,
        meta: Meta {
            version: "bench".into(),
            algorithm: Algorithm::Als(params),
            reason: None,
            metrics: None,
            interactions: t.len(),
        },
    };
    engine.install(trained).expect("install");
    let live = engine.recommender().current().expect("model");

    // Memory bandwidth: best of 5 reads of 512 MiB, on the same rayon threads the scoring uses,
    // with eight accumulators so the read is not bound by a serial chain of adds.
    use rayon::prelude::*;
    let big = vec![1.0f32; 128 << 20];
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let s = Instant::now();
        let total: f32 = big
            .par_chunks(1 << 16)
            .map(|c| {
                let mut acc = [0f32; 8];
                for x in c.chunks_exact(8) {
                    for k in 0..8 {
                        acc[k] += x[k];
                    }
                }
                acc.iter().sum::<f32>()
            })
            .sum();
        std::hint::black_box(total);
        best = best.min(s.elapsed().as_secs_f64());
    }
    let bandwidth = (big.len() * 4) as f64 / best;
    drop(big);
    let scan_bytes = (ITEMS * F * 4) as f64;
    let bound_ms = scan_bytes / bandwidth * 1e3;

    let filter = Filter::default();
    for u in 0..50 {
        live.recommend(&engine.user_key(&format!("u{u}")), 10, &filter, true).expect("warm-up");
    }
    let mut inproc = Vec::new();
    for u in 0..1000 {
        let key = engine.user_key(&format!("u{}", u % USERS));
        let s = Instant::now();
        let r = live.recommend(&key, 10, &filter, true).expect("recommend");
        inproc.push(s.elapsed());
        assert_eq!(r.0.len(), 10);
    }

    // Over HTTP: the real app on a loopback port, sequential requests from one client.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let state = shopgraph::http::AppState::new(engine.clone());
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            actix_web::HttpServer::new(move || shopgraph::http::app(state.clone()))
                .workers(2)
                .bind(("127.0.0.1", port))
                .expect("bind")
                .run()
                .await
        })
    });
    let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
    let url = |u: usize| format!("http://127.0.0.1:{port}/recommend?user=u{u}&k=10");
    let deadline = Instant::now() + Duration::from_secs(10);
    while agent.get(&format!("http://127.0.0.1:{port}/health")).call().is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    for u in 0..50 {
        agent.get(&url(u)).call().expect("warm-up").body_mut().read_to_string().expect("body");
    }
    let mut http = Vec::new();
    for u in 0..1000 {
        let s = Instant::now();
        agent.get(&url(u % USERS)).call().expect("request").body_mut().read_to_string().expect("body");
        http.push(s.elapsed());
    }
    let res = serde_json::json!({
        "items": ITEMS, "factors": F, "threads": rayon::current_num_threads(),
        "memory_bandwidth_gb_s": bandwidth / 1e9,
        "scan_bound_ms": bound_ms,
        "in_process_ms": {"p50": percentile(&mut inproc, 0.5), "p99": percentile(&mut inproc, 0.99)},
        "http_ms": {"p50": percentile(&mut http, 0.5), "p99": percentile(&mut http, 0.99)},
    });
    println!("{}", serde_json::to_string_pretty(&res).expect("json"));
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/results/recommend_latency.json");
    std::fs::create_dir_all(out.parent().expect("parent")).expect("mkdir");
    std::fs::write(out, serde_json::to_vec_pretty(&res).expect("json")).expect("write");
}
