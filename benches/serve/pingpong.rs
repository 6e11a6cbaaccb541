//! The load h2load cannot make: a ping-pong bidi Chat, where each message waits for the reply to
//! the one before. A tonic client on this process's runtime (pinned to the load core) keeps
//! 8 connections × 16 calls in flight, like the h2load rows, and checks every reply.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Instant,
};

use tonic::transport::{Channel, Endpoint};

use crate::{
    fixtures,
    h2load::{CLIENTS, Run, STREAMS},
    userservice::{ChatMessage, user_service_client::UserServiceClient},
};

async fn connect(addr: SocketAddr) -> Result<UserServiceClient<Channel>, String> {
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .map_err(|e| e.to_string())?
        .tcp_nodelay(true)
        .connect()
        .await
        .map_err(|e| format!("connect to {addr}: {e}"))?;
    Ok(UserServiceClient::new(channel))
}

/// One Chat call: each message sent after the reply to the previous one arrived; every reply
/// and the final OK status checked.
async fn chat(
    client: &mut UserServiceClient<Channel>,
    requests: &[ChatMessage],
    expected: &[ChatMessage],
) -> Result<(), String> {
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let mut replies = client
        .chat(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .map_err(|s| format!("Chat: {s}"))?
        .into_inner();
    for (request, expected) in requests.iter().zip(expected) {
        tx.send(request.clone())
            .await
            .map_err(|_| "Chat: the request stream closed early")?;
        let reply = replies
            .message()
            .await
            .map_err(|s| format!("Chat: {s}"))?
            .ok_or("Chat: the reply stream ended early")?;
        if &reply != expected {
            return Err(format!("Chat replied {reply:?}, expected {expected:?}"));
        }
    }
    drop(tx);
    match replies.message().await {
        Ok(None) => Ok(()),
        Ok(Some(extra)) => Err(format!("Chat sent an extra reply {extra:?}")),
        Err(status) => Err(format!("Chat ended with {status}")),
    }
}

/// One checked call, before any figure is taken.
pub async fn check(addr: SocketAddr) -> Result<(), String> {
    let requests = fixtures::chat_requests();
    let expected: Vec<_> = requests.iter().map(fixtures::chat_reply).collect();
    chat(&mut connect(addr).await?, &requests, &expected).await
}

/// `calls` ping-pong Chat calls of [`fixtures::CHAT_MESSAGES`] messages each.
pub async fn run(addr: SocketAddr, calls: u64) -> Result<Run, String> {
    let requests = Arc::new(fixtures::chat_requests());
    let expected: Arc<Vec<_>> = Arc::new(requests.iter().map(fixtures::chat_reply).collect());
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        clients.push(connect(addr).await?);
    }
    let tickets = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = clients
        .iter()
        .flat_map(|client| (0..STREAMS).map(move |_| client.clone()))
        .map(|mut client| {
            let (requests, expected, tickets) =
                (requests.clone(), expected.clone(), tickets.clone());
            tokio::spawn(async move {
                while tickets.fetch_add(1, Ordering::Relaxed) < calls {
                    chat(&mut client, &requests, &expected).await?;
                }
                Ok::<(), String>(())
            })
        })
        .collect();
    for task in tasks {
        task.await.map_err(|e| e.to_string())??;
    }
    Ok(Run {
        wall: start.elapsed(),
    })
}
