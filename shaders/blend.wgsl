// a * (1 - amount) + b * amount.
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;
@group(0) @binding(3) var<storage, read> other: array<u32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let n = params.src_w * params.src_h;
    if (id.x >= n) { return; }
    let t = params.amount;
    dst[id.x] = pack(unpack(src[id.x]) * (1.0 - t) + unpack(other[id.x]) * t);
}
