// Flow resize: bilinear sample at pixel centres (border replicate), vectors scaled by the
// size ratio. Same arithmetic as `gpu::resize_flow`.
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec2<f32>>;

fn at(x: u32, y: u32) -> vec2<f32> {
    return src[y * params.src_w + x];
}

@compute @workgroup_size(16, 16)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    if (id.x >= params.dst_w || id.y >= params.dst_h) { return; }
    let sx = f32(params.dst_w) / f32(params.src_w);
    let sy = f32(params.dst_h) / f32(params.src_h);
    let fx = clamp((f32(id.x) + 0.5) / sx - 0.5, 0.0, f32(params.src_w - 1u));
    let fy = clamp((f32(id.y) + 0.5) / sy - 0.5, 0.0, f32(params.src_h - 1u));
    let x0 = u32(floor(fx));
    let y0 = u32(floor(fy));
    let x1 = min(x0 + 1u, params.src_w - 1u);
    let y1 = min(y0 + 1u, params.src_h - 1u);
    let ax = fx - f32(x0);
    let ay = fy - f32(y0);
    let top = at(x0, y0) * (1.0 - ax) + at(x1, y0) * ax;
    let bottom = at(x0, y1) * (1.0 - ax) + at(x1, y1) * ax;
    let v = top * (1.0 - ay) + bottom * ay;
    dst[id.y * params.dst_w + id.x] = vec2<f32>(v.x * sx, v.y * sy);
}
