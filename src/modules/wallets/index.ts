export { WalletsService } from './wallets.service';
export { WalletsResolver } from './wallets.resolver';
