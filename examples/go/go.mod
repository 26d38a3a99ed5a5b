module github.com/wflo-dev/wflo/examples/go

go 1.26.0

require github.com/wflo-dev/wflo/bindings/go v0.0.0

replace github.com/wflo-dev/wflo/bindings/go => ../../bindings/go
