@chat @allure.label.epic:Multi-server_chat @allure.label.story:Access
Feature: Only known users take part in conversations
  As the operator of a chat service
  I want users to prove who they are before they chat
  So that nobody speaks in someone else's name

  Background:
    Given a chat cluster with 1 server and 1 gate

  Scenario: A wrong password is refused
    When "mallory" connects to gate 1 with the password "123456"
    Then the connection is refused as unauthenticated with "invalid password"

  Scenario: A missing user name is refused
    When someone connects to gate 1 without a user name
    Then the connection is refused as unauthenticated with "x-username header is required"

  Scenario: Anyone may see the list of rooms
    When an anonymous visitor lists the chat rooms through gate 1
    Then the rooms are "General, Technology, Crypto, Sports, Movies"

  Scenario: An anonymous visitor cannot join a room
    When an anonymous visitor tries to join "General" through gate 1
    Then the call is refused as unauthenticated by the room with "authentication required"
