DROP TABLE login_codes;
DROP TABLE oauth_flows;
DROP TABLE social_accounts;
