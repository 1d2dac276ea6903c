// Variational refinement (`flow::refine`, src/flow/refine.rs), one invocation per pixel per
// step: the per-pixel functions `terms_at`, `weights_at` and `jacobi_at` and the final sum,
// with the same arithmetic in the same order.
@group(0) @binding(0) var<uniform> p: DisParams;
@group(0) @binding(1) var<storage, read> i0: array<f32>;
@group(0) @binding(2) var<storage, read> i1: array<f32>;
@group(0) @binding(3) var<storage, read> gx0: array<f32>;
@group(0) @binding(4) var<storage, read> gy0: array<f32>;
@group(0) @binding(5) var<storage, read> gx1: array<f32>;
@group(0) @binding(6) var<storage, read> gy1: array<f32>;
@group(0) @binding(7) var<storage, read> flow: array<vec2<f32>>;
@group(0) @binding(8) var<storage, read> terms: array<vec4<f32>>;
@group(0) @binding(9) var<storage, read> d: array<vec2<f32>>;
@group(0) @binding(10) var<storage, read> weights: array<vec2<f32>>;
@group(0) @binding(11) var<storage, read_write> out_terms: array<vec4<f32>>;
@group(0) @binding(12) var<storage, read_write> out_weights: array<vec2<f32>>;
@group(0) @binding(13) var<storage, read_write> out_d: array<vec2<f32>>;

const ALPHA: f32 = 20.0;

// Where a clamped bilinear sample at (x, y) reads (`bilinear`).
struct Taps { a: u32, b: u32, c: u32, e: u32, ax: f32, ay: f32 };

fn taps(xi: f32, yi: f32) -> Taps {
    let x = clamp(xi, 0.0, f32(p.w - 1u));
    let y = clamp(yi, 0.0, f32(p.h - 1u));
    let x0 = u32(x);
    let y0 = u32(y);
    let x1 = min(x0 + 1u, p.w - 1u);
    let y1 = min(y0 + 1u, p.h - 1u);
    return Taps(y0 * p.w + x0, y0 * p.w + x1, y1 * p.w + x0, y1 * p.w + x1, x - f32(x0), y - f32(y0));
}

fn mix4(t: Taps, va: f32, vb: f32, vc: f32, ve: f32) -> f32 {
    let top = va + (vb - va) * t.ax;
    let bottom = vc + (ve - vc) * t.ax;
    return top + (bottom - top) * t.ay;
}

@compute @workgroup_size(16, 16)
fn prep(@builtin(global_invocation_id) id: vec3<u32>) {
    if (id.x >= p.w || id.y >= p.h) { return; }
    let i = id.y * p.w + id.x;
    let f = flow[i];
    let t = taps(f32(id.x) + f.x, f32(id.y) + f.y);
    let it = mix4(t, i1[t.a], i1[t.b], i1[t.c], i1[t.e]) - i0[i];
    let ix = 0.5 * (gx0[i] + mix4(t, gx1[t.a], gx1[t.b], gx1[t.c], gx1[t.e]));
    let iy = 0.5 * (gy0[i] + mix4(t, gy1[t.a], gy1[t.b], gy1[t.c], gy1[t.e]));
    out_terms[i] = vec4<f32>(it, ix, iy, 0.0);
}

@compute @workgroup_size(16, 16)
fn weigh(@builtin(global_invocation_id) id: vec3<u32>) {
    if (id.x >= p.w || id.y >= p.h) { return; }
    let x = id.x;
    let y = id.y;
    let i = y * p.w + x;
    let t = terms[i];
    let r = t.x + t.y * d[i].x + t.z * d[i].y;
    let wd = 1.0 / sqrt(r * r + 1.0);
    let b = y * p.w + min(x + 1u, p.w - 1u);
    let c = min(y + 1u, p.h - 1u) * p.w + x;
    let pa = flow[i] + d[i];
    let pb = flow[b] + d[b];
    let pc = flow[c] + d[c];
    let dx0 = pb.x - pa.x;
    let dy0 = pc.x - pa.x;
    let dx1 = pb.y - pa.y;
    let dy1 = pc.y - pa.y;
    let g0 = dx0 * dx0 + dy0 * dy0;
    let g1 = dx1 * dx1 + dy1 * dy1;
    let ws = ALPHA / sqrt(g0 + g1 + 1e-4);
    out_weights[i] = vec2<f32>(wd, ws);
}

@compute @workgroup_size(16, 16)
fn jacobi(@builtin(global_invocation_id) id: vec3<u32>) {
    if (id.x >= p.w || id.y >= p.h) { return; }
    let x = id.x;
    let y = id.y;
    let i = y * p.w + x;
    let wd = weights[i].x;
    let ws = weights[i].y;
    var sw = 0.0;
    var su = 0.0;
    var sv = 0.0;
    // Left, right, upper and lower neighbours, in this order.
    var js: array<u32, 4>;
    var has: array<bool, 4>;
    has[0] = x > 0u;
    has[1] = x + 1u < p.w;
    has[2] = y > 0u;
    has[3] = y + 1u < p.h;
    js[0] = i - select(0u, 1u, has[0]);
    js[1] = i + 1u;
    js[2] = i - select(0u, p.w, has[2]);
    js[3] = i + p.w;
    for (var q = 0u; q < 4u; q++) {
        if (has[q]) {
            let j = js[q];
            let wn = 0.5 * (ws + weights[j].y);
            sw += wn;
            su += wn * (flow[j].x + d[j].x - flow[i].x);
            sv += wn * (flow[j].y + d[j].y - flow[i].y);
        }
    }
    let t = terms[i];
    let gt = t.x;
    let gx = t.y;
    let gy = t.z;
    let a11 = wd * gx * gx + sw;
    let a12 = wd * gx * gy;
    let a22 = wd * gy * gy + sw;
    let b1 = su - wd * gx * gt;
    let b2 = sv - wd * gy * gt;
    let det = a11 * a22 - a12 * a12;
    if (abs(det) > 1e-9) {
        out_d[i] = vec2<f32>((a22 * b1 - a12 * b2) / det, (a11 * b2 - a12 * b1) / det);
    } else {
        out_d[i] = d[i];
    }
}

@compute @workgroup_size(16, 16)
fn add(@builtin(global_invocation_id) id: vec3<u32>) {
    if (id.x >= p.w || id.y >= p.h) { return; }
    let i = id.y * p.w + id.x;
    out_d[i] = vec2<f32>(flow[i].x + d[i].x, flow[i].y + d[i].y);
}
