// Backward warp by a flow field: out(x, y) = src(x + amount * dx, y + amount * dy),
// bilinear, border replicate. Same arithmetic as `gpu::cpu` `sample`.
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;
@group(0) @binding(3) var<storage, read> flow: array<vec2<f32>>;

fn texel(x: u32, y: u32) -> vec3<f32> {
    return unpack(src[y * params.src_w + x]);
}

@compute @workgroup_size(16, 16)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    if (id.x >= params.src_w || id.y >= params.src_h) { return; }
    let i = id.y * params.src_w + id.x;
    let d = flow[i];
    let x = clamp(f32(id.x) + params.amount * d.x, 0.0, f32(params.src_w - 1u));
    let y = clamp(f32(id.y) + params.amount * d.y, 0.0, f32(params.src_h - 1u));
    let x0 = floor(x);
    let y0 = floor(y);
    let ax = x - x0;
    let ay = y - y0;
    let ix0 = u32(x0);
    let iy0 = u32(y0);
    let ix1 = min(ix0 + 1u, params.src_w - 1u);
    let iy1 = min(iy0 + 1u, params.src_h - 1u);
    let top = texel(ix0, iy0) * (1.0 - ax) + texel(ix1, iy0) * ax;
    let bottom = texel(ix0, iy1) * (1.0 - ax) + texel(ix1, iy1) * ax;
    dst[i] = pack(top * (1.0 - ay) + bottom * ay);
}
