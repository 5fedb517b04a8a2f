export { WalletEventHub } from './wallet-events.hub';
export { WalletEventsResolver } from './wallet-events.resolver';
