/**
 * A real SMTP server inside the test process (the `smtp-server` package), for the email outbox tests.
 * It records every message whose DATA it received in full, and separately the ones it accepted
 * (answered 250 on a connection still open); it can refuse recipients of a domain with a 451 a number
 * of times, and hold its answer to DATA for a domain (to cut a send off before its 250).
 *
 * Tests share databases and outboxes with other tests: each test gives its recipients a domain of
 * its own and asks only about that domain, so emails of other tests drained to this server change
 * nothing it asserts.
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { simpleParser, type AddressObject } from 'mailparser';

export interface ReceivedEmail {
  /** Envelope recipients (RCPT TO). */
  rcptTo: string[];
  messageId: string;
  to: string[];
  from: string[];
  subject: string;
  text: string;
  html: string;
  autoSubmitted: string | null;
}

type DataAnswer = (error?: Error | null) => void;

export interface TestSmtpServer {
  url: string;
  /** Messages answered 250, in order. */
  accepted(domain: string): ReceivedEmail[];
  /** Messages received in full (accepted, or cut off before the answer), in order. */
  received(domain: string): ReceivedEmail[];
  /** The next `times` RCPT TO of the domain are refused with 451 (a temporary failure). */
  refuse(domain: string, times: number): void;
  /** Answers to DATA for the domain wait until `release` (messages received meanwhile resolve `held`). */
  hold(domain: string): { held: Promise<ReceivedEmail>; release(): void };
  /** Connections that closed while an answer to their DATA was held. */
  cutOff(domain: string): ReceivedEmail[];
  close(): Promise<void>;
}

const domainOf = (address: string) => address.slice(address.lastIndexOf('@') + 1).toLowerCase();
const addresses = (value: AddressObject | AddressObject[] | undefined) => [value ?? []].flat().flatMap((a) => a.value.map((v) => v.address ?? ''));

class Refusal extends Error {
  constructor(message: string, readonly responseCode: number) {
    super(message);
  }
}

export async function startSmtpServer(): Promise<TestSmtpServer> {
  const accepted: ReceivedEmail[] = [];
  const received: ReceivedEmail[] = [];
  const cutOff: ReceivedEmail[] = [];
  const refusals = new Map<string, number>();
  const holds = new Map<string, { onHeld: (email: ReceivedEmail) => void; waiting: DataAnswer[] }>();
  /** Per connection: an answer to DATA being held, to be dropped when the connection closes. */
  const pending = new Map<string, { email: ReceivedEmail; answer: DataAnswer }>();

  const server = new SMTPServer({
    logger: false, authOptional: true, disabledCommands: ['STARTTLS', 'AUTH'], closeTimeout: 200, size: 1024 * 1024,
    onRcptTo(address, _session, callback) {
      const domain = domainOf(address.address);
      const left = refusals.get(domain) ?? 0;
      if (left > 0) {
        refusals.set(domain, left - 1);
        callback(new Refusal('4.3.0 Try again later (test refusal)', 451));
        return;
      }
      callback();
    },
    onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        void simpleParser(Buffer.concat(chunks)).then((parsed) => {
          const email: ReceivedEmail = {
            rcptTo: session.envelope.rcptTo.map((r) => r.address), messageId: parsed.messageId ?? '', to: addresses(parsed.to), from: addresses(parsed.from),
            subject: parsed.subject ?? '', text: parsed.text ?? '', html: typeof parsed.html === 'string' ? parsed.html : '',
            autoSubmitted: (parsed.headers.get('auto-submitted') as string | undefined) ?? null,
          };
          received.push(email);
          const accept: DataAnswer = (error) => {
            pending.delete(session.id);
            if (!error) accepted.push(email);
            callback(error ?? null);
          };
          const hold = holds.get(domainOf(email.rcptTo[0] ?? ''));
          if (!hold) return accept();
          pending.set(session.id, { email, answer: accept });
          hold.waiting.push(accept);
          hold.onHeld(email);
        }, (error: unknown) => callback(error instanceof Error ? error : new Error(String(error))));
      });
    },
    onClose(session) {
      const held = pending.get(session.id);
      if (!held) return;
      // Closed before the answer: the message was not accepted (a held answer is never sent now).
      pending.delete(session.id);
      cutOff.push(held.email);
      for (const hold of holds.values()) hold.waiting = hold.waiting.filter((answer) => answer !== held.answer);
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;

  const forDomain = (list: ReceivedEmail[], domain: string) => list.filter((e) => e.rcptTo.some((r) => domainOf(r) === domain.toLowerCase()));
  return {
    url: `smtp://127.0.0.1:${port}`,
    accepted: (domain) => forDomain(accepted, domain),
    received: (domain) => forDomain(received, domain),
    cutOff: (domain) => forDomain(cutOff, domain),
    refuse(domain, times) {
      refusals.set(domain.toLowerCase(), times);
    },
    hold(domain) {
      let onHeld: (email: ReceivedEmail) => void = () => {};
      const held = new Promise<ReceivedEmail>((resolve) => { onHeld = resolve; });
      const entry = { onHeld, waiting: [] as DataAnswer[] };
      holds.set(domain.toLowerCase(), entry);
      return {
        held,
        release() {
          holds.delete(domain.toLowerCase());
          for (const answer of entry.waiting.splice(0)) answer();
        },
      };
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
