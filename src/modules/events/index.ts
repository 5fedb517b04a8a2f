export { WalletEventHub, type LiveStore, type WalletEventPayload, type AlertEventPayload } from './wallet-events.hub';
export { WalletEventsResolver } from './wallet-events.resolver';
export { databaseLiveStore } from './live-store';
export { InProcessTransport, type LiveTransport, type LiveMessage, type ResyncReason } from './live-transport';
export { RedisTransport, type LiveObserver, type PublishOutcome } from './redis-transport';
