// Patch search (`search_patch`) and one round of parallel propagation
// (`DenseInverseSearch::parallel`), one invocation per patch. Patches of up to 8x8 pixels.
@group(0) @binding(0) var<uniform> p: DisParams;
@group(0) @binding(1) var<storage, read> i0: array<f32>;
@group(0) @binding(2) var<storage, read> i1: array<f32>;
@group(0) @binding(3) var<storage, read> gx: array<f32>;
@group(0) @binding(4) var<storage, read> gy: array<f32>;
// `search`: the dense field the patches start from; `propagate`: last round's patches.
@group(0) @binding(5) var<storage, read> init: array<vec2<f32>>;
@group(0) @binding(6) var<storage, read> prev: array<vec2<f32>>;
@group(0) @binding(7) var<storage, read_write> out: array<vec2<f32>>;

// Where a displaced patch lies (`for_each_sample`): inside the image it is one 2x2 filter
// over a window, else every pixel is sampled clamped.
struct Window { inside: bool, x0: u32, y0: u32, ax: f32, ay: f32 };

fn window(px: u32, py: u32, pw: u32, ph: u32, u: vec2<f32>) -> Window {
    let x = f32(px) + u.x;
    let y = f32(py) + u.y;
    let fx = floor(x);
    let fy = floor(y);
    let inside = fx >= 0.0 && fy >= 0.0 && fx + f32(pw) <= f32(p.w - 1u)
        && fy + f32(ph) <= f32(p.h - 1u);
    if (!inside) { return Window(false, 0u, 0u, 0.0, 0.0); }
    return Window(true, u32(fx), u32(fy), x - fx, y - fy);
}

// Pixel (i, j) of the patch at (px, py) displaced by u, in `win`.
fn sample(win: Window, px: u32, py: u32, i: u32, j: u32, u: vec2<f32>) -> f32 {
    if (!win.inside) { return bilinear1(f32(px + i) + u.x, f32(py + j) + u.y); }
    let at = (win.y0 + j) * p.w + win.x0 + i;
    let top = i1[at] + (i1[at + 1u] - i1[at]) * win.ax;
    let bottom = i1[at + p.w] + (i1[at + p.w + 1u] - i1[at + p.w]) * win.ax;
    return top + (bottom - top) * win.ay;
}

// Mean-normalised sum of squared differences of the patch at (px, py) displaced by u.
fn ssd(px: u32, py: u32, u: vec2<f32>) -> f32 {
    let win = window(px, py, p.pw, p.ph, u);
    var s = 0.0;
    var s2 = 0.0;
    for (var j = 0u; j < p.ph; j++) {
        for (var i = 0u; i < p.pw; i++) {
            let d = sample(win, px, py, i, j, u) - i0[(py + j) * p.w + px + i];
            s += d;
            s2 += d * d;
        }
    }
    return s2 - s * s / f32(p.pw * p.ph);
}

// The patch's displacement by inverse-compositional Gauss-Newton from `start`.
fn search_patch(px: u32, py: u32, start: vec2<f32>) -> vec2<f32> {
    let n = f32(p.pw * p.ph);
    var mx = 0.0;
    var my = 0.0;
    for (var y = py; y < py + p.ph; y++) {
        for (var x = px; x < px + p.pw; x++) {
            mx += gx[y * p.w + x];
            my += gy[y * p.w + x];
        }
    }
    mx = mx / n;
    my = my / n;
    var hxx = 0.0;
    var hxy = 0.0;
    var hyy = 0.0;
    for (var y = py; y < py + p.ph; y++) {
        for (var x = px; x < px + p.pw; x++) {
            let tx = gx[y * p.w + x] - mx;
            let ty = gy[y * p.w + x] - my;
            hxx += tx * tx;
            hxy += tx * ty;
            hyy += ty * ty;
        }
    }
    let det = hxx * hyy - hxy * hxy;
    let trace = max(hxx + hyy, 1e-6);
    if (abs(det) < 1e-6 * (trace * trace)) { return start; }
    let ixx = hyy / det;
    let ixy = -hxy / det;
    let iyy = hxx / det;
    var u = start;
    var have = false;
    var best = 0.0;
    var best_u = start;
    var diff: array<f32, 64>;
    for (var it = 0u; it <= p.iterations; it++) {
        let win = window(px, py, p.pw, p.ph, u);
        var sum = 0.0;
        var squares = 0.0;
        for (var j = 0u; j < p.ph; j++) {
            for (var i = 0u; i < p.pw; i++) {
                let d = sample(win, px, py, i, j, u) - i0[(py + j) * p.w + px + i];
                diff[j * p.pw + i] = d;
                sum += d;
                squares += d * d;
            }
        }
        let mean = sum / n;
        let e = squares - sum * mean;
        var bx = 0.0;
        var by = 0.0;
        for (var j = 0u; j < p.ph; j++) {
            for (var i = 0u; i < p.pw; i++) {
                let d = diff[j * p.pw + i] - mean;
                let at = (py + j) * p.w + px + i;
                bx += (gx[at] - mx) * d;
                by += (gy[at] - my) * d;
            }
        }
        if (!have || e < best) {
            best = e;
            best_u = u;
            have = true;
        } else if (e > best * 1.5) {
            break;
        }
        let du = vec2<f32>(ixx * bx + ixy * by, ixy * bx + iyy * by);
        u = vec2<f32>(u.x - du.x, u.y - du.y);
        if (abs(du.x) + abs(du.y) < 0.005) { break; }
    }
    let moved = best_u - start;
    if (moved.x * moved.x + moved.y * moved.y > f32(p.pw * p.pw)) { return start; }
    return best_u;
}

@compute @workgroup_size(8, 8)
fn search(@builtin(global_invocation_id) id: vec3<u32>) {
    if (id.x >= p.nx || id.y >= p.ny) { return; }
    let px = origin(id.x, p.stride, p.last_x);
    let py = origin(id.y, p.stride, p.last_y);
    let start = init[(py + p.ph / 2u) * p.w + px + p.pw / 2u];
    out[id.y * p.nx + id.x] = search_patch(px, py, start);
}

@compute @workgroup_size(8, 8)
fn propagate(@builtin(global_invocation_id) id: vec3<u32>) {
    if (id.x >= p.nx || id.y >= p.ny) { return; }
    let c = id.x;
    let r = id.y;
    let k = r * p.nx + c;
    let px = origin(c, p.stride, p.last_x);
    let py = origin(r, p.stride, p.last_y);
    let own = prev[k];
    // Left, up, right, down, in this order (as the CPU twin).
    var cands: array<vec2<f32>, 4>;
    var has: array<bool, 4>;
    has[0] = c > 0u;
    has[1] = r > 0u;
    has[2] = c + 1u < p.nx;
    has[3] = r + 1u < p.ny;
    if (has[0]) { cands[0] = prev[k - 1u]; }
    if (has[1]) { cands[1] = prev[k - p.nx]; }
    if (has[2]) { cands[2] = prev[k + 1u]; }
    if (has[3]) { cands[3] = prev[k + p.nx]; }
    var have_own = false;
    var best = 0.0;
    var best_u = own;
    var changed = false;
    for (var q = 0u; q < 4u; q++) {
        let cand = cands[q];
        if (has[q] && (cand.x != own.x || cand.y != own.y)) {
            if (!have_own) {
                best = ssd(px, py, own);
                have_own = true;
            }
            let e = ssd(px, py, cand);
            if (e < best) {
                best = e;
                best_u = cand;
                changed = true;
            }
        }
    }
    if (changed) {
        out[k] = search_patch(px, py, best_u);
    } else {
        out[k] = own;
    }
}
