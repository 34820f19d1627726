//! The mail backends deliver real messages: SMTP to a minimal SMTP server on loopback, and
//! `.eml` files to a directory.

use std::collections::HashMap;

use swift_core::Config;
use swift_core::mail::{Mail, Mailer};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

fn config(pairs: &[(&str, &str)]) -> Config {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::from_lookup(|k| map.get(k).cloned()).unwrap()
}

/// Accepts one SMTP session and returns the envelope and message it received.
async fn smtp_server(listener: TcpListener) -> (Vec<String>, String) {
    let (socket, _) = listener.accept().await.unwrap();
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read).lines();
    write.write_all(b"220 test.local ESMTP\r\n").await.unwrap();
    let (mut envelope, mut data, mut in_data) = (Vec::new(), String::new(), false);
    while let Some(line) = lines.next_line().await.unwrap() {
        if in_data {
            if line == "." {
                in_data = false;
                write.write_all(b"250 queued\r\n").await.unwrap();
            } else {
                data.push_str(&line);
                data.push('\n');
            }
            continue;
        }
        let upper = line.to_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            b"250 test.local\r\n"
        } else if upper.starts_with("MAIL FROM") || upper.starts_with("RCPT TO") {
            envelope.push(line.clone());
            b"250 ok\r\n"
        } else if upper == "DATA" {
            in_data = true;
            b"354 go ahead\r\n"
        } else if upper == "QUIT" {
            write.write_all(b"221 bye\r\n").await.unwrap();
            break;
        } else {
            b"250 ok\r\n"
        };
        write.write_all(reply).await.unwrap();
    }
    (envelope, data)
}

#[tokio::test]
async fn smtp_backend_delivers_through_an_smtp_server() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("smtp://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(smtp_server(listener));
    let url: &'static str = Box::leak(url.into_boxed_str());
    let mailer = Mailer::new(&config(&[("EMAIL_BACKEND", "smtp"), ("SMTP_URL", url)])).unwrap();
    mailer
        .send(&Mail {
            to: "ada@example.com".into(),
            subject: "Hello from SWIFT".into(),
            body: "Line one\nhttp://localhost:3000/x?key=abc\n".into(),
            html: Some("<p>Line one</p>".into()),
        })
        .await
        .unwrap();
    drop(mailer);
    let (envelope, data) = server.await.unwrap();
    assert!(
        envelope
            .iter()
            .any(|l| l.contains("<no-reply@swift.localhost>")),
        "{envelope:?}"
    );
    assert!(
        envelope.iter().any(|l| l.contains("<ada@example.com>")),
        "{envelope:?}"
    );
    assert!(data.contains("Subject: Hello from SWIFT"), "{data}");
    // Plain text and HTML, as alternatives of one message.
    assert!(data.contains("multipart/alternative"), "{data}");
    assert!(data.contains("<p>Line one</p>"), "{data}");
    assert!(
        data.contains("key=abc") || data.contains("key=3Dabc"),
        "{data}"
    );
}

#[tokio::test]
async fn file_backend_writes_one_eml_per_message() {
    let dir = std::env::temp_dir().join(format!("swift-mail-{}", uuid::Uuid::new_v4().simple()));
    let dir_str: &'static str = Box::leak(dir.display().to_string().into_boxed_str());
    let mailer = Mailer::new(&config(&[
        ("EMAIL_BACKEND", "file"),
        ("EMAIL_FILE_DIR", dir_str),
    ]))
    .unwrap();
    for i in 0..2 {
        mailer
            .send(&Mail {
                to: "bob@example.com".into(),
                subject: format!("Message {i}"),
                body: "hi".into(),
                html: None,
            })
            .await
            .unwrap();
    }
    let files: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
    assert_eq!(files.len(), 2);
    assert!(
        files
            .iter()
            .all(|f| f.path().extension().is_some_and(|e| e == "eml"))
    );
    let text = std::fs::read_to_string(files[0].path()).unwrap();
    assert!(text.contains("To: bob@example.com"), "{text}");
    std::fs::remove_dir_all(dir).ok();
}
