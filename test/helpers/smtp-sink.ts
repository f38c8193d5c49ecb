/**
 * A minimal SMTP server that accepts every message and keeps it, standing in for a mail relay in
 * the Alertmanager delivery test. It speaks the plain subset a client without STARTTLS or AUTH
 * uses (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT); it is not a mail server.
 */
import { createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';

export interface ReceivedMail {
  from: string;
  to: string[];
  /** Headers and body as sent, dot-stuffing undone. */
  data: string;
}

export interface SmtpSink {
  port: number;
  messages: ReceivedMail[];
  close(): Promise<void>;
}

export async function startSmtpSink(): Promise<SmtpSink> {
  const messages: ReceivedMail[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    serve(socket, (mail) => messages.push(mail));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    messages,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

function serve(socket: Socket, deliver: (mail: ReceivedMail) => void): void {
  const reply = (line: string) => socket.write(`${line}\r\n`);
  let mail: ReceivedMail = { from: '', to: [], data: '' };
  let inData = false;
  let buffered = '';
  reply('220 smtp-sink ready');
  socket.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    let cut: number;
    while ((cut = buffered.indexOf('\r\n')) >= 0) {
      const line = buffered.slice(0, cut);
      buffered = buffered.slice(cut + 2);
      if (inData) {
        if (line === '.') {
          inData = false;
          deliver(mail);
          mail = { from: '', to: [], data: '' };
          reply('250 queued');
        } else {
          mail.data += `${line.startsWith('..') ? line.slice(1) : line}\n`;
        }
        continue;
      }
      const verb = line.slice(0, 4).toUpperCase();
      const address = /<([^>]*)>/.exec(line)?.[1] ?? '';
      switch (verb) {
        case 'EHLO':
          reply('250-smtp-sink\r\n250 8BITMIME');
          break;
        case 'MAIL':
          mail.from = address;
          reply('250 ok');
          break;
        case 'RCPT':
          mail.to.push(address);
          reply('250 ok');
          break;
        case 'DATA':
          inData = true;
          reply('354 end with <CRLF>.<CRLF>');
          break;
        case 'RSET':
          mail = { from: '', to: [], data: '' };
          reply('250 ok');
          break;
        case 'QUIT':
          socket.end('221 bye\r\n');
          break;
        case 'HELO':
        case 'NOOP':
          reply('250 ok');
          break;
        default:
          reply('502 not implemented');
      }
    }
  });
}
