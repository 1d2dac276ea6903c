// Densification (`DenseInverseSearch::level`): each pixel blends the patches over it, each
// weighted by how well its displacement explains this pixel (1 / max(1, |residual|)), patch
// rows then patches along each, as the CPU twin sums them.
@group(0) @binding(0) var<uniform> p: DisParams;
@group(0) @binding(1) var<storage, read> i0: array<f32>;
@group(0) @binding(2) var<storage, read> i1: array<f32>;
@group(0) @binding(3) var<storage, read> patches: array<vec2<f32>>;
@group(0) @binding(4) var<storage, read> init: array<vec2<f32>>;
@group(0) @binding(5) var<storage, read_write> out: array<vec2<f32>>;

// Pixel k of the one-row window at (px, y) displaced by u (`for_each_sample` over pw x 1).
fn sample_row(px: u32, y: u32, k: u32, u: vec2<f32>) -> f32 {
    let sx = f32(px) + u.x;
    let sy = f32(y) + u.y;
    let fx = floor(sx);
    let fy = floor(sy);
    let inside = fx >= 0.0 && fy >= 0.0 && fx + f32(p.pw) <= f32(p.w - 1u)
        && fy + 1.0 <= f32(p.h - 1u);
    if (!inside) { return bilinear1(f32(px + k) + u.x, f32(y) + u.y); }
    let ax = sx - fx;
    let ay = sy - fy;
    let at = u32(fy) * p.w + u32(fx) + k;
    let top = i1[at] + (i1[at + 1u] - i1[at]) * ax;
    let bottom = i1[at + p.w] + (i1[at + p.w + 1u] - i1[at + p.w]) * ax;
    return top + (bottom - top) * ay;
}

// The first patch index along an axis whose patch can reach `x`.
fn first_over(x: u32, size: u32) -> u32 {
    if (x + 1u < size) { return 0u; }
    return (x + 1u - size + p.stride - 1u) / p.stride;
}

@compute @workgroup_size(16, 16)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    if (id.x >= p.w || id.y >= p.h) { return; }
    let x = id.x;
    let y = id.y;
    let a = i0[y * p.w + x];
    var s0 = 0.0;
    var s1 = 0.0;
    var s2 = 0.0;
    for (var j = first_over(y, p.ph); j < p.ny; j++) {
        let py = origin(j, p.stride, p.last_y);
        if (py > y) { break; }
        if (y >= py + p.ph) { continue; }
        for (var i = first_over(x, p.pw); i < p.nx; i++) {
            let px = origin(i, p.stride, p.last_x);
            if (px > x) { break; }
            if (x >= px + p.pw) { continue; }
            let u = patches[j * p.nx + i];
            let r = abs(sample_row(px, y, x - px, u) - a);
            let wt = 1.0 / max(r, 1.0);
            s0 += wt;
            s1 += wt * u.x;
            s2 += wt * u.y;
        }
    }
    if (s0 > 0.0) {
        out[y * p.w + x] = vec2<f32>(s1 / s0, s2 / s0);
    } else {
        out[y * p.w + x] = init[y * p.w + x];
    }
}
