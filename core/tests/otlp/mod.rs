//! A tiny OTLP/HTTP receiver for the export tests: answers 200 to every POST (after `delay`
//! for traces, to play a slow collector) and keeps what it decoded with the OTLP protobuf types.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

#[derive(Default)]
pub struct Received {
    pub spans: Vec<Span>,
    pub metric_names: Vec<String>,
    pub bodies: Vec<Vec<u8>>,
}

/// Starts the receiver; returns its base URL and what it received.
pub fn receiver(delay: Duration) -> (String, Arc<Mutex<Received>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Received::default()));
    let sink = got.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let sink = sink.clone();
            std::thread::spawn(move || serve(conn, &sink, delay));
        }
    });
    (url, got)
}

fn serve(mut conn: std::net::TcpStream, sink: &Mutex<Received>, delay: Duration) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
        let mut len = 0usize;
        loop {
            let mut h = String::new();
            reader.read_line(&mut h).unwrap();
            if h.trim().is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                len = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; len];
        reader.read_exact(&mut body).unwrap();
        if path == "/v1/traces" {
            std::thread::sleep(delay);
            let req = ExportTraceServiceRequest::decode(&body[..]).unwrap();
            let mut g = sink.lock().unwrap();
            for rs in req.resource_spans {
                for ss in rs.scope_spans {
                    g.spans.extend(ss.spans);
                }
            }
            g.bodies.push(body);
        } else if path == "/v1/metrics" {
            let req = ExportMetricsServiceRequest::decode(&body[..]).unwrap();
            let mut g = sink.lock().unwrap();
            for rm in req.resource_metrics {
                for sm in rm.scope_metrics {
                    g.metric_names
                        .extend(sm.metrics.into_iter().map(|m| m.name));
                }
            }
            g.bodies.push(body);
        }
        let _ = conn.write_all(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n",
        );
    }
}
