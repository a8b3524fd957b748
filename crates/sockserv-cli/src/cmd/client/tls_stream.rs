//! `sockserv client --tls`: stdin and stdout over a rustls client connection.

use std::io::{self, ErrorKind, Read, Write};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::thread;

use anyhow::{bail, Context, Result};
use rustls::ClientConnection;
use sockserv::Endpoint;

use super::HalfClose;

const CHUNK: usize = 64 * 1024;

/// Shakes hands over `reader`/`writer` (two handles on one stream), then copies stdin to
/// the server and the server's plaintext to stdout. At the end of input the client sends
/// `close_notify` and half-closes; it exits 0 once the server's `close_notify` arrives.
pub fn copy(
    mut reader: impl Read,
    mut writer: impl HalfClose,
    mut conn: ClientConnection,
    url: &Endpoint,
) -> Result<ExitCode> {
    handshake(&mut reader, &mut writer, &mut conn)
        .with_context(|| format!("TLS handshake with {url} failed"))?;
    // The sender writes whatever size stdin gives it; the socket bounds the memory.
    conn.set_buffer_limit(None);
    let conn = Arc::new(Mutex::new(conn));
    {
        let conn = Arc::clone(&conn);
        thread::spawn(move || send_stdin(&conn, writer));
    }
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let mut buf = vec![0; CHUNK];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                eprintln!("sockserv: the server reset the connection");
                return Ok(ExitCode::FAILURE);
            }
            Err(e) => return Err(e).context("reading from the server"),
        };
        if n == 0 {
            eprintln!("sockserv: the server closed the connection without a TLS close_notify");
            return Ok(ExitCode::FAILURE);
        }
        let (text, closed) =
            decrypt(&conn, &buf[..n]).with_context(|| format!("TLS error from {url}"))?;
        match out.write_all(&text).and_then(|()| out.flush()) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
            Err(e) => return Err(e).context("writing to stdout"),
        }
        if closed {
            return Ok(ExitCode::SUCCESS);
        }
    }
}

/// Runs the handshake to its end on the blocking stream.
fn handshake(
    reader: &mut impl Read,
    writer: &mut impl Write,
    conn: &mut ClientConnection,
) -> Result<()> {
    loop {
        while conn.wants_write() {
            conn.write_tls(writer)?;
        }
        if !conn.is_handshaking() {
            return Ok(());
        }
        if conn.read_tls(reader)? == 0 {
            bail!("the server closed the connection");
        }
        if let Err(e) = conn.process_new_packets() {
            // Tell the server why, if rustls has an alert for it.
            while conn.wants_write() && conn.write_tls(writer).is_ok() {}
            return Err(e.into());
        }
    }
}

/// Decrypts `data`; returns the plaintext and whether the server's close_notify came.
fn decrypt(conn: &Mutex<ClientConnection>, mut data: &[u8]) -> Result<(Vec<u8>, bool)> {
    let mut conn = conn.lock().expect("the sender thread does not panic");
    let mut text = Vec::new();
    let mut chunk = vec![0; 16 * 1024];
    while !data.is_empty() {
        conn.read_tls(&mut data)?;
        conn.process_new_packets()?;
        loop {
            match conn.reader().read(&mut chunk) {
                Ok(0) => return Ok((text, true)),
                Ok(n) => text.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok((text, false))
}

/// Encrypts under the lock, writes outside it: the reader must never wait for a
/// socket write (the server may be waiting for us to read).
fn send_stdin(conn: &Mutex<ClientConnection>, mut writer: impl HalfClose) {
    let encrypt = |apply: &dyn Fn(&mut ClientConnection)| -> Vec<u8> {
        let mut conn = conn.lock().expect("the reader does not panic");
        apply(&mut conn);
        let mut records = Vec::new();
        while conn.wants_write() {
            // Writing into a Vec cannot fail.
            let _ = conn.write_tls(&mut records);
        }
        records
    };
    let stdin = io::stdin();
    let mut stdin = stdin.lock();
    let mut buf = vec![0; CHUNK];
    loop {
        let n = match stdin.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let records = encrypt(&|conn| {
            // Unlimited buffer: the whole chunk is taken.
            let _ = conn.writer().write_all(&buf[..n]);
        });
        // A failed write means the server went away; the reading side reports the end.
        if writer.write_all(&records).is_err() {
            return;
        }
    }
    let records = encrypt(&|conn| conn.send_close_notify());
    let _ = writer.write_all(&records);
    let _ = writer.half_close();
}
