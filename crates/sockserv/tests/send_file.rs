//! `Output::send_file` and `Session::on_drained` on real sockets under every strategy:
//! pipelined requests answered in order with files larger than any socket buffer, each
//! held back until the previous answer has drained.

mod util;

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::thread;

use sockserv::{Output, PeerAddr, Server, Session, Strategy};
use util::{Client, Serving, Transport};

/// 3 MiB: far more than a loopback socket buffer, so sending takes many wake-ups.
const FILE_LEN: usize = 3 << 20;
const REQUESTS: usize = 3;

/// Answers each line with `begin\n`, the whole file, `end\n` — one answer at a time: the
/// next line is only looked at once the previous answer has gone out.
struct FileServer {
    path: PathBuf,
    input: Vec<u8>,
    eof: bool,
}

impl FileServer {
    fn serve(&mut self, out: &mut Output) {
        if out.queued() == 0 {
            if let Some(end) = self.input.iter().position(|&b| b == b'\n') {
                self.input.drain(..=end);
                out.write(b"begin\n");
                let file = File::open(&self.path).expect("fixture file");
                out.send_file(file, 0, FILE_LEN as u64);
                out.write(b"end\n");
                return;
            }
        }
        if self.eof && out.queued() == 0 {
            out.close();
        }
    }
}

impl Session for FileServer {
    fn on_data(&mut self, data: &[u8], out: &mut Output) {
        self.input.extend_from_slice(data);
        self.serve(out);
    }

    fn on_eof(&mut self, out: &mut Output) {
        self.eof = true;
        self.serve(out);
    }

    fn on_drained(&mut self, out: &mut Output) {
        self.serve(out);
    }
}

fn fixture(dir: &Path) -> (PathBuf, Vec<u8>) {
    let path = dir.join("payload.bin");
    let content = util::payload(FILE_LEN);
    std::fs::write(&path, &content).unwrap();
    (path, content)
}

fn expected(content: &[u8]) -> Vec<u8> {
    let mut one = b"begin\n".to_vec();
    one.extend_from_slice(content);
    one.extend_from_slice(b"end\n");
    one.repeat(REQUESTS)
}

/// Sends every request in one write, half-closes, and reads until the server closes.
fn fetch_all(client: &mut Client) -> Vec<u8> {
    client.write_all(&b"get\n".repeat(REQUESTS)).unwrap();
    client.shutdown_write();
    let mut got = Vec::new();
    client
        .read_to_end(&mut got)
        .expect("the whole answer, then EOF");
    got
}

#[test]
fn pipelined_files_arrive_whole_and_in_order_under_every_strategy() {
    let dir = util::temp_dir();
    let (path, content) = fixture(dir.path());
    let want = expected(&content);
    for strategy in util::STRATEGIES {
        let _isolation = util::isolate_for(strategy);
        for transport in [Transport::Tcp4, Transport::Unix] {
            let path = path.clone();
            let server = Server::builder(transport.endpoint(dir.path()))
                .strategy(strategy)
                .read_timeout(Some(util::HANDLER_READ_TIMEOUT))
                .session(move |_: &PeerAddr| FileServer {
                    path: path.clone(),
                    input: Vec::new(),
                    eof: false,
                })
                .bind()
                .unwrap();
            let serving = Serving::start(server);
            // Two clients at once, so event loops interleave their files.
            let clients: Vec<_> = (0..2)
                .map(|_| {
                    let endpoint = serving.endpoint.clone();
                    thread::spawn(move || fetch_all(&mut Client::connect(&endpoint)))
                })
                .collect();
            for client in clients {
                let got = client.join().expect("client thread");
                assert_eq!(got.len(), want.len(), "{strategy:?} over {transport:?}");
                assert!(got == want, "{strategy:?} over {transport:?}: bytes differ");
            }
            serving.stop().close().unwrap();
        }
    }
}

/// A file cut short after it was queued: the peer gets a short answer and EOF, never
/// bytes that are not the file's.
#[test]
fn a_file_truncated_after_queueing_ends_the_connection() {
    struct Truncating(PathBuf);
    impl Session for Truncating {
        fn on_data(&mut self, _data: &[u8], out: &mut Output) {
            let file = File::open(&self.0).unwrap();
            out.send_file(file, 0, FILE_LEN as u64);
            // The file shrinks before the driver gets to it.
            File::options()
                .write(true)
                .open(&self.0)
                .unwrap()
                .set_len(1000)
                .unwrap();
            out.write(b"never sent");
        }
    }
    let dir = util::temp_dir();
    for strategy in [Strategy::Threads, Strategy::Events { loops: 1 }] {
        let (path, content) = fixture(dir.path());
        let server = Server::builder(Transport::Tcp4.endpoint(dir.path()))
            .strategy(strategy)
            .session(move |_: &PeerAddr| Truncating(path.clone()))
            .bind()
            .unwrap();
        let serving = Serving::start(server);
        let mut client = Client::connect(&serving.endpoint);
        client.write_all(b"x").unwrap();
        // The server resets or closes, within the bound; either way no more than the
        // file's first bytes.
        let got = util::read_until_closed(&mut client, util::WAIT, &format!("{strategy:?}"));
        assert!(got.len() <= 1000, "{strategy:?}: {} bytes", got.len());
        assert_eq!(got, content[..got.len()], "{strategy:?}");
        serving.stop().close().unwrap();
    }
}
