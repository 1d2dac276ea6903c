// Shared by `dis_search.wgsl` and `dis_densify.wgsl`, appended to each: both bind the level's
// parameters as `p` and the second image as `i1`.

// Bilinear sample of the second image at (x, y), clamped to it (`bilinear`).
fn bilinear1(xi: f32, yi: f32) -> f32 {
    let x = clamp(xi, 0.0, f32(p.w - 1u));
    let y = clamp(yi, 0.0, f32(p.h - 1u));
    let x0 = u32(x);
    let y0 = u32(y);
    let ax = x - f32(x0);
    let ay = y - f32(y0);
    let x1 = min(x0 + 1u, p.w - 1u);
    let y1 = min(y0 + 1u, p.h - 1u);
    let r0 = y0 * p.w;
    let r1 = y1 * p.w;
    let top = i1[r0 + x0] + (i1[r0 + x1] - i1[r0 + x0]) * ax;
    let bottom = i1[r1 + x0] + (i1[r1 + x1] - i1[r1 + x0]) * ax;
    return top + (bottom - top) * ay;
}
