// a * (1 - amount) + b * amount, one invocation per pixel over a 2D grid (the group count
// per dimension stays far below the device limit even at 8192 pixels a side).
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;
@group(0) @binding(3) var<storage, read> other: array<u32>;

@compute @workgroup_size(16, 16)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    if (id.x >= params.src_w || id.y >= params.src_h) { return; }
    let i = id.y * params.src_w + id.x;
    let t = params.amount;
    dst[i] = pack(unpack(src[i]) * (1.0 - t) + unpack(other[i]) * t);
}
