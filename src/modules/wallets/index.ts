export { WalletsService, type WalletView } from './wallets.service';
export { WalletsResolver } from './wallets.resolver';
export { Wallet, Bucket } from './wallet.type';
