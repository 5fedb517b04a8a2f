export { WalletsService } from './wallets.service';
export { WalletsResolver } from './wallets.resolver';
export { walletSequences } from './wallets.repo';
