import Foundation
#if canImport(CoreGraphics)
import CoreGraphics
#endif

// Everything but the CGImage entry point at the end is pure Swift (Foundation only), so it builds and is
// unit-tested on Linux too (apps/ios/Package.swift); CoreGraphics exists on Apple platforms only.

/// Everything the app needs to turn pixels into model input, read from `edgevit.json` (its `preprocess`
/// block and `input.layout`). No size, mean or scale is written in app code.
struct PreprocessSpec {
    static let bilinear = "bilinear"
    static let nearest = "nearest"
    static let nchw = "NCHW"
    static let nhwc = "NHWC"

    let height: Int
    let width: Int
    let channels: Int
    let mean: [Float]
    let std: [Float]
    let resize: String
    let scale: Float
    let layout: String

    init(contract: EdgeVitContract) throws {
        let p = contract.preprocess
        guard p.size.count == 2, p.size[0] > 0, p.size[1] > 0 else {
            throw EdgeVitError.contract("preprocess.size must be [H, W], got \(p.size)")
        }
        guard p.channels == 1 || p.channels == 3, p.mean.count == p.channels, p.std.count == p.channels else {
            throw EdgeVitError.contract("preprocess needs 1 or 3 channels with one mean/std per channel")
        }
        guard p.resize == Self.bilinear || p.resize == Self.nearest else {
            throw EdgeVitError.contract("unknown resize rule '\(p.resize)'")
        }
        guard contract.input.layout == Self.nchw || contract.input.layout == Self.nhwc else {
            throw EdgeVitError.contract("unknown input layout '\(contract.input.layout)'")
        }
        height = p.size[0]
        width = p.size[1]
        channels = p.channels
        mean = p.mean.map { Float($0) }
        std = p.std.map { Float($0) }
        resize = p.resize
        scale = Float(p.scale)
        layout = contract.input.layout
    }

    /// Number of floats in one preprocessed image.
    var count: Int { channels * height * width }
}

/// The contract's preprocessing, step for step as `edgevit.runtimes.contract.preprocess_images` does it
/// (mirrored in Python by `apps/reference_preprocess.py`, which a test feeds to a real exported model, and
/// identical to the Android app's Preprocessor.kt):
///
/// 1. pixels -> float planes (alpha dropped; an RGB image with R == G == B everywhere is one grey plane);
/// 2. resize each plane: bilinear with half-pixel centres and no antialias (torch's align_corners=False),
///    rows first then columns, in Float; or nearest. Core Graphics / Vision scaling is NOT used: it filters
///    differently;
/// 3. grey -> repeated to 3 channels, or RGB -> (r + g + b) / 3 when the model wants 1;
/// 4. v * scale, then (v - mean[c]) / std[c];
/// 5. packed for batch 1 in the contract's layout (NCHW or NHWC).
struct Preprocessor {
    let spec: PreprocessSpec

    /// `pixels`: row-major bytes, `bytesPerPixel` 1 (grey) or 4 (RGBA / RGBX).
    func process(pixels: [UInt8], width: Int, height: Int, bytesPerPixel: Int) -> [Float] {
        let planes = unpack(pixels: pixels, count: width * height, bytesPerPixel: bytesPerPixel)
        let resized = planes.map { resizePlane($0, inH: height, inW: width) }
        return normalizeAndPack(matchChannels(resized))
    }

    /// Step 1.
    func unpack(pixels: [UInt8], count: Int, bytesPerPixel: Int) -> [[Float]] {
        if bytesPerPixel == 1 {
            return [pixels.prefix(count).map { Float($0) }]
        }
        var r = [Float](repeating: 0, count: count)
        var g = r
        var b = r
        var grey = true
        for i in 0..<count {
            let o = i * bytesPerPixel
            let (ri, gi, bi) = (pixels[o], pixels[o + 1], pixels[o + 2])
            if ri != gi || gi != bi { grey = false }
            r[i] = Float(ri)
            g[i] = Float(gi)
            b[i] = Float(bi)
        }
        return grey ? [r] : [r, g, b]
    }

    /// Step 2: one plane (inH x inW, row-major) -> spec.height x spec.width.
    func resizePlane(_ plane: [Float], inH: Int, inW: Int) -> [Float] {
        let (outH, outW) = (spec.height, spec.width)
        if inH == outH && inW == outW { return plane }
        var out = [Float](repeating: 0, count: outH * outW)
        if spec.resize == PreprocessSpec.nearest {
            let ys = Self.nearestTaps(inSize: inH, outSize: outH)
            let xs = Self.nearestTaps(inSize: inW, outSize: outW)
            for oy in 0..<outH {
                for ox in 0..<outW { out[oy * outW + ox] = plane[ys[oy] * inW + xs[ox]] }
            }
            return out
        }
        let ty = Self.bilinearTaps(inSize: inH, outSize: outH)
        let tx = Self.bilinearTaps(inSize: inW, outSize: outW)
        var rows = [Float](repeating: 0, count: outH * inW) // pass 1: rows
        for oy in 0..<outH {
            let a = ty.i0[oy] * inW
            let b = ty.i1[oy] * inW
            let w1 = ty.w1[oy]
            let w0 = 1 - w1
            for x in 0..<inW {
                let top = plane[a + x] * w0
                let bottom = plane[b + x] * w1
                rows[oy * inW + x] = top + bottom
            }
        }
        for oy in 0..<outH { // pass 2: columns
            let base = oy * inW
            for ox in 0..<outW {
                let w1 = tx.w1[ox]
                let w0 = 1 - w1
                let left = rows[base + tx.i0[ox]] * w0
                let right = rows[base + tx.i1[ox]] * w1
                out[oy * outW + ox] = left + right
            }
        }
        return out
    }

    /// Step 3.
    func matchChannels(_ planes: [[Float]]) -> [[Float]] {
        if spec.channels == 3 && planes.count == 1 { return [planes[0], planes[0], planes[0]] }
        if spec.channels == 1 && planes.count == 3 {
            let (r, g, b) = (planes[0], planes[1], planes[2])
            return [(0..<r.count).map { i -> Float in
                let rg = r[i] + g[i]
                return (rg + b[i]) / 3
            }]
        }
        return planes
    }

    /// Steps 4 and 5.
    func normalizeAndPack(_ planes: [[Float]]) -> [Float] {
        let c = spec.channels
        let hw = spec.height * spec.width
        let nhwc = spec.layout == PreprocessSpec.nhwc
        var out = [Float](repeating: 0, count: c * hw)
        for ch in 0..<c {
            let plane = planes[ch]
            let (mean, std) = (spec.mean[ch], spec.std[ch])
            for i in 0..<hw {
                let scaled = plane[i] * spec.scale
                let v = (scaled - mean) / std
                if nhwc { out[i * c + ch] = v } else { out[ch * hw + i] = v }
            }
        }
        return out
    }

    /// Half-pixel bilinear taps (Double coordinates, Float weights), as torch's align_corners=False.
    static func bilinearTaps(inSize: Int, outSize: Int) -> (i0: [Int], i1: [Int], w1: [Float]) {
        let scale = Double(inSize) / Double(outSize)
        var i0 = [Int](), i1 = [Int](), w1 = [Float]()
        for o in 0..<outSize {
            let src = max((Double(o) + 0.5) * scale - 0.5, 0)
            let lo = min(Int(src.rounded(.down)), inSize - 1)
            i0.append(lo)
            i1.append(min(lo + 1, inSize - 1))
            w1.append(Float(src - Double(lo)))
        }
        return (i0, i1, w1)
    }

    static func nearestTaps(inSize: Int, outSize: Int) -> [Int] {
        let ratio = Double(inSize) / Double(outSize)
        return (0..<outSize).map { min(Int((Double($0) * ratio).rounded(.down)), inSize - 1) }
    }
}

#if canImport(CoreGraphics)
extension Preprocessor {
    func process(_ image: CGImage) throws -> [Float] {
        let p = try Self.pixels(of: image)
        return process(pixels: p.pixels, width: p.width, height: p.height, bytesPerPixel: p.bytesPerPixel)
    }

    /// The image's own pixels, unscaled: grey images as 1 byte/pixel, others as RGBX (alpha dropped).
    /// Drawn into a context of the image's own colour space when it is RGB, so no colour conversion runs.
    static func pixels(of image: CGImage) throws -> (pixels: [UInt8], width: Int, height: Int, bytesPerPixel: Int) {
        let (w, h) = (image.width, image.height)
        let grey = image.colorSpace?.model == .monochrome
        let bytesPerPixel = grey ? 1 : 4
        let space: CGColorSpace
        if grey {
            space = CGColorSpaceCreateDeviceGray()
        } else if let own = image.colorSpace, own.model == .rgb {
            space = own
        } else {
            space = CGColorSpace(name: CGColorSpace.sRGB) ?? CGColorSpaceCreateDeviceRGB()
        }
        let info = grey ? CGImageAlphaInfo.none.rawValue : CGImageAlphaInfo.noneSkipLast.rawValue
        var pixels = [UInt8](repeating: 0, count: w * h * bytesPerPixel)
        let drawn: Bool = pixels.withUnsafeMutableBytes { buf in
            guard let ctx = CGContext(data: buf.baseAddress, width: w, height: h, bitsPerComponent: 8,
                                      bytesPerRow: w * bytesPerPixel, space: space, bitmapInfo: info) else {
                return false
            }
            ctx.interpolationQuality = .none
            ctx.draw(image, in: CGRect(x: 0, y: 0, width: w, height: h))
            return true
        }
        guard drawn else { throw EdgeVitError.image("cannot read the pixels of a \(w)x\(h) image") }
        return (pixels, w, h, bytesPerPixel)
    }
}
#endif
