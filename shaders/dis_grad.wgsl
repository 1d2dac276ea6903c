// Central-difference gradients, one-sided at the border (`Gray::gradients`).
@group(0) @binding(0) var<uniform> p: DisParams;
@group(0) @binding(1) var<storage, read> img: array<f32>;
@group(0) @binding(2) var<storage, read_write> gx: array<f32>;
@group(0) @binding(3) var<storage, read_write> gy: array<f32>;

@compute @workgroup_size(16, 16)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    if (id.x >= p.w || id.y >= p.h) { return; }
    let x = id.x;
    let y = id.y;
    let l = max(x, 1u) - 1u;
    let r = min(x + 1u, p.w - 1u);
    let up = max(y, 1u) - 1u;
    let down = min(y + 1u, p.h - 1u);
    let row = y * p.w;
    gx[row + x] = (img[row + r] - img[row + l]) / f32(max(r - l, 1u));
    gy[row + x] = (img[down * p.w + x] - img[up * p.w + x]) / f32(max(down - up, 1u));
}
