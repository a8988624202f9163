/**
 * A readable default name for a new credential, from its AAGUID: the MDS statement's
 * `description` when a metadata blob is loaded, else a small built-in table of common
 * authenticators, else "Security key". The name is a label for people; it is never a
 * security decision (an AAGUID without verified attestation is self-asserted, fido-oidc.md
 * §3.4).
 *
 * Sources of the table (checked Nov 2026): passkey providers from the community list
 * github.com/passkeydeveloper/passkey-authenticator-aaguids `aaguid.json`; YubiKey models
 * from the FIDO MDS3 statements as mirrored in that repository's `combined_aaguid.json`.
 */
export const ZERO_AAGUID = '00000000-0000-0000-0000-000000000000';
export const DEFAULT_AUTHENTICATOR_NAME = 'Security key';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Lower-case hyphenated form, or undefined when `value` is not a UUID. */
export function normalizeAaguid(value: string): string | undefined {
  const lower = value.trim().toLowerCase();
  return UUID.test(lower) ? lower : undefined;
}

const KNOWN_AUTHENTICATORS: ReadonlyMap<string, string> = new Map([
  // YubiKey 5 series (FIDO MDS3)
  ['cb69481e-8ff7-4039-93ec-0a2729a154a8', 'YubiKey 5 Series'],
  ['ee882879-721c-4913-9775-3dfcce97072a', 'YubiKey 5 Series'],
  ['19083c3d-8383-4b18-bc03-8f1c9ab2fd1b', 'YubiKey 5 Series'],
  ['fa2b99dc-9e39-4257-8f92-4a30d23c4118', 'YubiKey 5 Series with NFC'],
  ['2fc0579f-8113-47ea-b116-bb5a8db9202a', 'YubiKey 5 Series with NFC'],
  ['a25342c0-3cdc-4414-8e46-f4807fca511c', 'YubiKey 5 Series with NFC'],
  ['c5ef55ff-ad9a-4b9f-b580-adebafe026d0', 'YubiKey 5 Series with Lightning'],
  ['a02167b9-ae71-4ac7-9a07-06432ebb6f1c', 'YubiKey 5 Series with Lightning'],
  ['73bb0cd4-e502-49b8-9c6f-b59445bf720b', 'YubiKey 5 FIPS Series'],
  ['c1f9a0bc-1dd2-404a-b27f-8e29047a43fd', 'YubiKey 5 FIPS Series with NFC'],
  ['85203421-48f9-4355-9bc8-8a53846e5083', 'YubiKey 5 FIPS Series with Lightning'],
  // Passkey providers (passkey-authenticator-aaguids)
  ['ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4', 'Google Password Manager'],
  ['fbfc3007-154e-4ecc-8c0b-6e020557d7bd', 'iCloud Keychain'],
  ['dd4ec289-e01d-41c9-bb89-70fa845d4bf2', 'iCloud Keychain (Managed)'],
  ['08987058-cadc-4b81-b6e1-30de50dcbe96', 'Windows Hello'],
  ['9ddd1817-af5a-4672-a2b9-3e3dd95000a9', 'Windows Hello'],
  ['6028b017-b1d4-4c02-b4b3-afcdafc96bb2', 'Windows Hello'],
  ['bada5566-a7aa-401f-bd96-45619a55120d', '1Password'],
  ['d548826e-79b4-db40-a3d8-11116f7e8349', 'Bitwarden'],
  ['adce0002-35bc-c60a-648b-0b25f1f05503', 'Chrome on Mac'],
]);

/** What the name lookup needs from loaded metadata (an MdsMetadata fits). */
export interface DescribedAuthenticators {
  readonly entries: ReadonlyMap<string, { readonly description: string | undefined }>;
}

/** A display name for a credential made by the authenticator model `aaguid`. */
export function authenticatorName(aaguid: string, mds?: DescribedAuthenticators): string {
  const id = normalizeAaguid(aaguid);
  if (id === undefined || id === ZERO_AAGUID) return DEFAULT_AUTHENTICATOR_NAME;
  const description = mds?.entries.get(id)?.description?.trim();
  if (description !== undefined && description !== '') return description.slice(0, 100);
  return KNOWN_AUTHENTICATORS.get(id) ?? DEFAULT_AUTHENTICATOR_NAME;
}
