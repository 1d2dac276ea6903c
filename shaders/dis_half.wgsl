// Half size, each pixel the mean of its 2x2 block, the last row or column repeated for odd
// sizes (`Gray::half_ceil`).
@group(0) @binding(0) var<uniform> p: DisParams;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(16, 16)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    if (id.x >= p.w || id.y >= p.h) { return; }
    let y0 = min(2u * id.y, p.sh - 1u);
    let y1 = min(2u * id.y + 1u, p.sh - 1u);
    let x0 = min(2u * id.x, p.sw - 1u);
    let x1 = min(2u * id.x + 1u, p.sw - 1u);
    dst[id.y * p.w + id.x] = 0.25
        * (src[y0 * p.sw + x0] + src[y0 * p.sw + x1] + src[y1 * p.sw + x0] + src[y1 * p.sw + x1]);
}
