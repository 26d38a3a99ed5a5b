// swift-tools-version:5.9
// wflo for Swift: the UniFFI-generated bindings of libwflo (module WfloNative, over the C
// declarations in wfloFFI) and the idiomatic layer over them (module Wflo).
//
// libwflo is linked from WFLO_LIB_DIR, else $CARGO_TARGET_DIR/debug, else ../../target/debug
// (build it with `cargo build -p wflo-ffi`); its directory is also the run path, so
// `swift test` finds it without LD_LIBRARY_PATH / DYLD_LIBRARY_PATH.
import Foundation
import PackageDescription

let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path
let env = ProcessInfo.processInfo.environment
let libDir = env["WFLO_LIB_DIR"]
    ?? env["CARGO_TARGET_DIR"].map { "\($0)/debug" }
    ?? "\(here)/../../target/debug"

let package = Package(
    name: "Wflo",
    // async/await in the generated code and the layer.
    platforms: [.macOS(.v12), .iOS(.v15)],
    products: [.library(name: "Wflo", targets: ["Wflo"])],
    targets: [
        // The generated C header and module map (module.modulemap is uniffi-bindgen's
        // wfloFFI.modulemap, renamed as SwiftPM requires).
        .systemLibrary(name: "wfloFFI", path: "Sources/wfloFFI"),
        // The generated Swift, unchanged (bindings/kotlin/generate.sh checks it is current).
        .target(
            name: "WfloNative",
            dependencies: ["wfloFFI"],
            path: "Sources/WfloNative",
            linkerSettings: [
                .linkedLibrary("wflo"),
                .unsafeFlags(["-L", libDir, "-Xlinker", "-rpath", "-Xlinker", libDir]),
            ]
        ),
        .target(name: "Wflo", dependencies: ["WfloNative"], path: "Sources/Wflo"),
        // QuickTour.swift is a link to examples/swift/QuickTour.swift, the README's snippet.
        .testTarget(name: "WfloTests", dependencies: ["Wflo"], path: "Tests/WfloTests"),
    ]
)
