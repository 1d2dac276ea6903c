// Crop + resize: area average per axis when shrinking, bilinear when enlarging.
// Same taps and weights as `gpu::cpu::axis_taps`.
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;

fn pixel(x: u32, y: u32) -> vec3<f32> {
    return unpack(src[(params.crop_y + y) * params.src_w + params.crop_x + x]);
}

// Accumulates row `sy` (weight `wy`) of the source for output column `ox`.
fn row_sum(ox: u32, sy: u32, wy: f32) -> vec3<f32> {
    let scale = f32(params.crop_w) / f32(params.dst_w);
    var acc = vec3<f32>(0.0);
    if (scale > 1.0) {
        let start = f32(ox) * scale;
        let end = start + scale;
        var i = u32(floor(start));
        loop {
            if (f32(i) >= end || i >= params.crop_w) { break; }
            let w = max(min(end, f32(i) + 1.0) - max(start, f32(i)), 0.0);
            if (w > 0.0) {
                acc = acc + pixel(i, sy) * ((w / scale) * wy);
            }
            i = i + 1u;
        }
    } else {
        let s = max((f32(ox) + 0.5) * scale - 0.5, 0.0);
        let i0 = min(u32(floor(s)), params.crop_w - 1u);
        let i1 = min(i0 + 1u, params.crop_w - 1u);
        let a = s - f32(i0);
        acc = pixel(i0, sy) * ((1.0 - a) * wy) + pixel(i1, sy) * (a * wy);
    }
    return acc;
}

@compute @workgroup_size(16, 16)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    if (id.x >= params.dst_w || id.y >= params.dst_h) { return; }
    let scale = f32(params.crop_h) / f32(params.dst_h);
    var acc = vec3<f32>(0.0);
    if (scale > 1.0) {
        let start = f32(id.y) * scale;
        let end = start + scale;
        var j = u32(floor(start));
        loop {
            if (f32(j) >= end || j >= params.crop_h) { break; }
            let w = max(min(end, f32(j) + 1.0) - max(start, f32(j)), 0.0);
            if (w > 0.0) {
                acc = acc + row_sum(id.x, j, w / scale);
            }
            j = j + 1u;
        }
    } else {
        let s = max((f32(id.y) + 0.5) * scale - 0.5, 0.0);
        let j0 = min(u32(floor(s)), params.crop_h - 1u);
        let j1 = min(j0 + 1u, params.crop_h - 1u);
        let a = s - f32(j0);
        acc = row_sum(id.x, j0, 1.0 - a) + row_sum(id.x, j1, a);
    }
    dst[id.y * params.dst_w + id.x] = pack(acc);
}
