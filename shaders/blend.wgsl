// a * (1 - amount) + b * amount, one invocation per pixel over a 2D grid (the group count
// per dimension stays far below the device limit even at 8192 pixels a side). The same
// integers as `gpu::kernels` (the CPU path): w = round(256 amount), (a (256 - w) + b w +
// 128) >> 8 per channel.
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;
@group(0) @binding(3) var<storage, read> other: array<u32>;

fn channels(p: u32) -> vec3<u32> {
    return vec3<u32>(p & 0xffu, (p >> 8u) & 0xffu, (p >> 16u) & 0xffu);
}

@compute @workgroup_size(16, 16)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    if (id.x >= params.src_w || id.y >= params.src_h) { return; }
    let i = id.y * params.src_w + id.x;
    let w = u32(clamp(params.amount, 0.0, 1.0) * 256.0 + 0.5);
    let v = (channels(src[i]) * (256u - w) + channels(other[i]) * w + vec3<u32>(128u)) >> vec3<u32>(8u);
    dst[i] = v.x | (v.y << 8u) | (v.z << 16u) | (255u << 24u);
}
